# Warnings and sanitizers, applied the same way to every fieldsync target.

# Warnings on for one of our own targets (never for third-party code).
function(fieldsync_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>
                                           $<$<BOOL:${FIELDSYNC_WERROR}>:-Werror>)
endfunction()

# Sanitizers apply to everything built, so that the instrumentation is consistent.
macro(fieldsync_apply_sanitizers)
  if(FIELDSYNC_SANITIZE STREQUAL "address")
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
    # gcc 12's instrumentation makes -Wmaybe-uninitialized misfire inside std::variant; the
    # normal build keeps the warning.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      add_compile_options(-Wno-maybe-uninitialized)
    endif()
  elseif(FIELDSYNC_SANITIZE STREQUAL "thread")
    add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
    add_link_options(-fsanitize=thread)
  elseif(NOT FIELDSYNC_SANITIZE STREQUAL "")
    message(FATAL_ERROR "FIELDSYNC_SANITIZE must be empty, 'address' or 'thread'")
  endif()
endmacro()

# One of fieldsync's static libraries: the alias fieldsync::<short>, public headers in include/,
# private ones in src/, position-independent (so a shell may link it into a shared library).
function(fieldsync_add_library target alias)
  add_library(${target} STATIC ${ARGN})
  add_library(${alias} ALIAS ${target})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:include>
    PRIVATE src)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  fieldsync_target_warnings(${target})
endfunction()
