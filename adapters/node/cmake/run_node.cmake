# Runs node for a test of adapters/node, after checking that what it needs
# is there, so a missing piece fails with its remedy instead of a stack
# trace (or, worse, a skip). Run by CTest as
#   cmake -DNODE=... -DPACKAGE_DIR=... -DRUN=<node arguments>
#         [-DFAKE=<sessionwheel-fake>]              the tool, as SESSIONWHEEL_FAKE
#         [-DINSTALL_FROM=<build dir> -DPREFIX=...] install there first; the
#                                                   module and tool from there
#         -P run_node.cmake

if(NOT NODE)
  message(FATAL_ERROR
    "node was not found when CMake configured. Install Debian's nodejs and "
    "npm (./dev.sh test does), then configure again.")
endif()

# The pinned twilio, as npm ci installs it from package-lock.json; npm ci
# rewrites node_modules/.package-lock.json, so an older one is stale.
set(lock "${PACKAGE_DIR}/package-lock.json")
set(installed "${PACKAGE_DIR}/node_modules/.package-lock.json")
if(NOT EXISTS "${installed}" OR
   NOT EXISTS "${PACKAGE_DIR}/node_modules/twilio/package.json")
  message(FATAL_ERROR
    "${PACKAGE_DIR}/node_modules is missing: run `npm ci` there "
    "(./dev.sh test does).")
endif()
if("${lock}" IS_NEWER_THAN "${installed}")
  message(FATAL_ERROR
    "${PACKAGE_DIR}/node_modules is older than package-lock.json: run "
    "`npm ci` there (./dev.sh test does).")
endif()

if(DEFINED FAKE)
  set(ENV{SESSIONWHEEL_FAKE} "${FAKE}")
endif()
if(DEFINED PREFIX)
  # Fresh every run, so a file left by an earlier install cannot hide a
  # missing install rule.
  file(REMOVE_RECURSE "${PREFIX}")
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${INSTALL_FROM}"
                    --prefix "${PREFIX}"
                  OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install ${INSTALL_FROM} failed (${rc})")
  endif()
  # As a user of the installed package: the module through NODE_PATH, the
  # tool on the PATH; twilio is the user's own, here the pinned one.
  unset(ENV{SESSIONWHEEL_FAKE})
  set(ENV{NODE_PATH}
    "${PREFIX}/share/sessionwheel/node:${PACKAGE_DIR}/node_modules")
  set(ENV{PATH} "${PREFIX}/bin:$ENV{PATH}")
endif()

execute_process(COMMAND "${NODE}" ${RUN}
                WORKING_DIRECTORY "${PACKAGE_DIR}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "node ${RUN} failed (${rc})")
endif()
