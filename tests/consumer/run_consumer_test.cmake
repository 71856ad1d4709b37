# Installs the build tree to a fresh prefix, then configures, builds and runs
# tests/consumer against it: proof that find_package(sessionwheel) works for
# a host. Run by CTest as
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DCXX_COMPILER=...
#         -DGENERATOR=... -DBUILD_TYPE=... [-DSDK_PYTHON=... -DPYTHON_DIR=...
#         -DPYTHON_EXAMPLE=...] [-DEXPECT_SCALEOUT=1] -P run_consumer_test.cmake
# and, given a Python, runs the Python example against the installed adapter.

foreach(var BUILD_DIR SOURCE_DIR WORK_DIR CXX_COMPILER GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer_test.cmake: ${var} is not set")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/build")
# Fresh every run, so a file left by an earlier install cannot hide a
# missing install rule.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed (${rc}): ${command}")
  endif()
endfunction()

step("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
step("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${consumer_build}"
     -G "${GENERATOR}"
     "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
     "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
     "-DCMAKE_PREFIX_PATH=${prefix}"
     "-DEXPECTED_PREFIX=${prefix}"
     "-DEXPECT_SCALEOUT=${EXPECT_SCALEOUT}"
     -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
step("${CMAKE_COMMAND}" --build "${consumer_build}")
step("${consumer_build}/app")
if(EXPECT_SCALEOUT)
  step("${consumer_build}/scaleout_app")
endif()
# Built only where the host has gMock (see CMakeLists.txt).
if(EXISTS "${consumer_build}/matchers")
  step("${consumer_build}/matchers")
endif()

# The Python adapter, installed with the tool, finds it by itself: no
# $SESSIONWHEEL_FAKE, no PATH to it, only the installed package on
# PYTHONPATH. Checked where the caller names a Python with twilio and pytest.
if(SDK_PYTHON AND PYTHON_DIR AND PYTHON_EXAMPLE)
  cmake_path(ABSOLUTE_PATH PYTHON_DIR BASE_DIRECTORY "${prefix}")
  step("${CMAKE_COMMAND}" -E env --unset=SESSIONWHEEL_FAKE
       "PATH=${WORK_DIR}/no-tools-here" "PYTHONPATH=${PYTHON_DIR}"
       PYTHONDONTWRITEBYTECODE=1
       "${SDK_PYTHON}" -m pytest -q -p no:cacheprovider
       -p sessionwheel_fake.pytest_plugin "${PYTHON_EXAMPLE}")
endif()
