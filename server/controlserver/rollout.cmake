# Staged rollouts (rollout.*): pure logic over the release store (store/releasestore.h), no network.
if(NOT TARGET controlserver_rollout)
    qt_add_library(controlserver_rollout STATIC
        ${CMAKE_CURRENT_LIST_DIR}/rollout.cpp ${CMAKE_CURRENT_LIST_DIR}/rollout.h)
    target_include_directories(controlserver_rollout PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/libs)
    target_link_libraries(controlserver_rollout PUBLIC controlserver_store Qt6::Core PRIVATE iptv_payload iptv_compile_options)
endif()
