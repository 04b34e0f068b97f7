/* cli/cmd_eval.c - placeholder until the engine lands (Foundation I). */
#include "cli.h"
int ng_cmd_eval(int argc, char **argv)
{
    return ng_cli_usage("eval", "not built yet");
}
