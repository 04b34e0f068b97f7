/* fuzz/cli_nomain.c - the CLI's shared helpers (cli/main.c) without its main(), so that fuzz
 * harnesses and tests/test_fuzz_corpus.c can call subcommands such as ng_cmd_info directly. */
int ng_cli_main_unused(int argc, char **argv);
#define main ng_cli_main_unused
#include "../cli/main.c"
