# eck_embed_migrations(<target> <schema> <function-name>)
#
# Compiles schema/<schema>/NNNN_name.sql into <target> as
#   eck::MigrationSet <function-name>();
# so an installed daemon carries its migrations inside the binary and the
# checksum check compares the database against exactly what was built.
function(eck_embed_migrations target schema fn)
  file(GLOB sql CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/schema/${schema}/*.sql)
  list(SORT sql)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/migrations_${schema}.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DSCHEMA=${schema} -DFN=${fn}
            "-DFILES=${sql}" -P ${PROJECT_SOURCE_DIR}/cmake/WriteMigrations.cmake
    DEPENDS ${sql} ${PROJECT_SOURCE_DIR}/cmake/WriteMigrations.cmake
    COMMENT "Embedding migrations of schema ${schema}")
  target_sources(${target} PRIVATE ${out})
endfunction()
