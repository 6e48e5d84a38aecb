# Releases and rollouts: the store (SQLite; PostgreSQL when its server binaries are installed)
# and the planner/state machine.
include(${PROJECT_SOURCE_DIR}/server/controlserver/rollout.cmake)
iptv_add_test(tst_releasestore SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_releasestore.cpp LIBS controlserver_rollout Qt6::Network
    LABELS integration TIMEOUT 180)
iptv_add_test(tst_rollout SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_rollout.cpp LIBS controlserver_rollout)
