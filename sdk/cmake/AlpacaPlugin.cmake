# alpaca_add_plugin(NAME SOURCES...) builds NAME.so, loadable by alpaca-server.
# Only the entry symbol alpaca_plugin_v1 is exported; everything else stays hidden.
# In the Alpaca tree the module lands in the plugin output dir and is installed with the server.
function(alpaca_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  set(sources ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  add_library(${name} MODULE ${sources})
  target_link_libraries(${name} PRIVATE Alpaca::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED ALPACA_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ALPACA_PLUGIN_OUTPUT_DIR})
    install(TARGETS ${name} LIBRARY DESTINATION ${ALPACA_PLUGIN_INSTALL_DIR} COMPONENT server)
  endif()
endfunction()
