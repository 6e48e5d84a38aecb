# The Redis FleetBus (redisfleetbus.*) for several nodes; included by server/controlserver and,
# for its test alone, by tests/controlserver. Paths are relative to this file.
if(NOT TARGET controlserver_redisbus)
    qt_add_library(controlserver_redisbus STATIC
        ${CMAKE_CURRENT_LIST_DIR}/redisfleetbus.cpp ${CMAKE_CURRENT_LIST_DIR}/redisfleetbus.h
        ${CMAKE_CURRENT_LIST_DIR}/fleetbus.h)
    target_include_directories(controlserver_redisbus PUBLIC ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/libs)
    target_link_libraries(controlserver_redisbus PUBLIC Qt6::Core PRIVATE iptv_redis iptv_compile_options)
endif()
