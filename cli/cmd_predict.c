/* cli/cmd_predict.c - placeholder until the engine lands (Foundation I). */
#include "cli.h"
int ng_cmd_predict(int argc, char **argv)
{
    return ng_cli_usage("predict", "not built yet");
}
