# find_package(AlpacaSDK) — gives Alpaca::sdk and alpaca_add_plugin(NAME SOURCES...).
include(${CMAKE_CURRENT_LIST_DIR}/AlpacaSDKTargets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/AlpacaPlugin.cmake)
