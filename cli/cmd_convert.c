/* cli/cmd_convert.c - placeholder until the engine lands (Foundation I). */
#include "cli.h"
int ng_cmd_convert(int argc, char **argv)
{
    return ng_cli_usage("convert", "not built yet");
}
