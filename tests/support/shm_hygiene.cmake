cmake_policy(SET CMP0057 NEW)  # if(... IN_LIST ...)
# cmake -DMODE=snapshot|check -DFILE=<path> -P shm_hygiene.cmake
# snapshot: write the names in /dev/shm to FILE. check: fail if /dev/shm now holds a name that
# FILE does not (a segment the test suite created and left behind), unless a test program of
# another run that is still going made it.
file(GLOB _now RELATIVE /dev/shm /dev/shm/*)
list(SORT _now)
if(MODE STREQUAL "snapshot")
  string(REPLACE ";" "\n" _text "${_now}")
  file(WRITE "${FILE}" "${_text}\n")
  list(LENGTH _now _n)
  message(STATUS "/dev/shm holds ${_n} entries before the tests")
else()
  file(STRINGS "${FILE}" _before)
  set(_leaked)
  foreach(_entry IN LISTS _now)
    if(NOT _entry IN_LIST _before)
      # A test segment's name holds the pid of the test program that made it (shmt-<pid>-...).
      # This check runs after every test program of the run has exited, so a name whose program
      # still runs belongs to another test run on the machine (a second build tree, another
      # user), not to this one: it is reported, not counted.
      set(_pid "")
      if(_entry MATCHES "^shmt-([0-9]+)-")
        set(_pid "${CMAKE_MATCH_1}")  # read after the match (not in the same if: ${} expands first)
      endif()
      if(NOT _pid STREQUAL "" AND EXISTS "/proc/${_pid}")
        message(STATUS "/dev/shm/${_entry}: made by process ${_pid}, still running "
                       "(another test run), not by this one")
      else()
        list(APPEND _leaked "${_entry}")
      endif()
    endif()
  endforeach()
  if(_leaked)
    message(FATAL_ERROR "the tests left these in /dev/shm: ${_leaked}")
  endif()
  list(LENGTH _now _n)
  message(STATUS "/dev/shm: nothing left behind (${_n} entries, as before)")
endif()
