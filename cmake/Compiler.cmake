# Warnings, strict Qt string handling and sanitizers for every target of ours.
add_library(iptv_compile_options INTERFACE)
target_compile_options(iptv_compile_options INTERFACE
    -Wall -Wextra -Wpedantic -Wnon-virtual-dtor -Woverloaded-virtual
    -Wno-missing-field-initializers
    $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>)
if(IPTV_WARNINGS_AS_ERRORS)
    target_compile_options(iptv_compile_options INTERFACE -Werror)
endif()
target_compile_definitions(iptv_compile_options INTERFACE
    QT_NO_CAST_FROM_ASCII
    QT_NO_URL_CAST_FROM_STRING
    QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
    QT_USE_QSTRINGBUILDER
    QT_NO_KEYWORDS
    $<$<BOOL:${IPTV_DEVELOPMENT_BUILD}>:IPTV_DEVELOPMENT_BUILD>)

if(IPTV_FUZZ)
    # Coverage feedback and sanitizers in every library the fuzz targets reach, not only in the
    # fuzz programs themselves; the programs add -fsanitize=fuzzer for libFuzzer's main.
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
endif()

if(IPTV_SANITIZE)
    string(REPLACE ";" "," _san "${IPTV_SANITIZE}")
    add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer)
    add_link_options(-fsanitize=${_san})
endif()
