# The Redis FleetBus between two nodes on a real redis-server (skipped when not installed).
include(${PROJECT_SOURCE_DIR}/server/controlserver/redisfleetbus.cmake)
iptv_add_test(tst_redisfleetbus SOURCES tst_redisfleetbus.cpp ../common/redisserver.h
    LIBS controlserver_redisbus Qt6::Network LABELS integration TIMEOUT 120)
