/* cli/cmd_demo.c - placeholder until the engine lands (Foundation I). */
#include "cli.h"
int ng_cmd_demo(int argc, char **argv)
{
    return ng_cli_usage("demo", "not built yet");
}
