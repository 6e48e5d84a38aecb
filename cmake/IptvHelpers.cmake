# iptv_add_library(name SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
#   A static library under libs/, with our compile options and its folder as include root.
function(iptv_add_library name)
    cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
    qt_add_library(${name} STATIC ${ARG_SOURCES})
    target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/..)
    target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE iptv_compile_options ${ARG_PRIVATE_LIBS})
endfunction()

# iptv_add_test(name SOURCES ... LIBS ... [LABELS ...] [TIMEOUT s] [ENV ...])
#   One QtTest executable registered with ctest. Tests find their fixtures via IPTV_TEST_DATA
#   and the real XMLTV guides (when present) via IPTV_SHARED_XMLTV.
function(iptv_add_test name)
    cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS;ENV" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE Qt6::Test iptv_compile_options ${ARG_LIBS})
    target_compile_definitions(${name} PRIVATE
        IPTV_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data"
        IPTV_SHARED_XMLTV="${PROJECT_SOURCE_DIR}/../shared/data/xmltv"
        IPTV_BINARY_DIR="${PROJECT_BINARY_DIR}")
    add_test(NAME ${name} COMMAND ${name})
    if(NOT ARG_LABELS)
        set(ARG_LABELS unit)
    endif()
    if(NOT ARG_TIMEOUT)
        set(ARG_TIMEOUT 120)
    endif()
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
        ENVIRONMENT "QT_QPA_PLATFORM=offscreen;${ARG_ENV}")
endfunction()

# iptv_add_fuzzer(name SOURCES ... LIBS ... CORPUS dir)
#   With IPTV_FUZZ (clang) a libFuzzer binary; otherwise the same entry point driven by a small
#   main that replays the seed corpus, registered as a ctest regression test (label fuzz).
function(iptv_add_fuzzer name)
    cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE iptv_compile_options ${ARG_LIBS})
    if(IPTV_FUZZ)
        target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
        target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    else()
        target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cpp)
    endif()
    if(IPTV_BUILD_TESTS AND ARG_CORPUS)
        if(IPTV_FUZZ)
            add_test(NAME ${name} COMMAND ${name} -runs=20000 -max_total_time=60 ${ARG_CORPUS})
        else()
            add_test(NAME ${name} COMMAND ${name} ${ARG_CORPUS})
        endif()
        set_tests_properties(${name} PROPERTIES LABELS "fuzz;unit" TIMEOUT 300)
    endif()
endfunction()
