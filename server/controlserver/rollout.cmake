# Releases and staged rollouts (releasestore.*, rollout.*): pure logic over QtSql, no network.
# Included by server/controlserver/CMakeLists.txt (and by tests/controlserver when the server is
# not part of the build yet); paths are relative to this file so either includer works.
if(NOT TARGET controlserver_rollout)
    qt_add_library(controlserver_rollout STATIC
        ${CMAKE_CURRENT_LIST_DIR}/releasestore.cpp ${CMAKE_CURRENT_LIST_DIR}/releasestore.h
        ${CMAKE_CURRENT_LIST_DIR}/rollout.cpp ${CMAKE_CURRENT_LIST_DIR}/rollout.h)
    target_include_directories(controlserver_rollout PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/libs)
    target_link_libraries(controlserver_rollout PUBLIC iptv_core_sql Qt6::Core Qt6::Sql PRIVATE iptv_compile_options)
    # Version order from libs/payload when it is built; rollout.cpp carries a stand-in otherwise.
    if(TARGET iptv_payload)
        target_link_libraries(controlserver_rollout PRIVATE iptv_payload)
        target_compile_definitions(controlserver_rollout PRIVATE IPTV_ROLLOUT_HAVE_PAYLOAD)
    endif()
endif()
