/* cli/cmd_info.c - placeholder until the engine lands (Foundation I). */
#include "cli.h"
int ng_cmd_info(int argc, char **argv)
{
    return ng_cli_usage("info", "not built yet");
}
