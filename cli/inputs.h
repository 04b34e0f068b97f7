/* cli/inputs.h - what `predict` and `eval` feed a model besides the IDX/CIFAR datasets:
 * NumPy .npy arrays and folders of PNG/JPEG images (formats in include/nnguard/inputs.h).
 *
 * The image options --resize HxW, --mean M[,M,M], --std S[,S,S] are parsed the same way by
 * each command (ng_cli_img_option, like ng_cli_keys_option), then turned into the library's
 * ng_image_options for the model's input shape with ng_cli_img_options.
 */
#ifndef NG_CLI_INPUTS_H
#define NG_CLI_INPUTS_H
#include <getopt.h>
#include "nnguard/nnguard.h"
#include "nnguard/inputs.h"

typedef struct ng_cli_img {
    int   h, w;                 /* --resize HxW (0: not given) */
    int   nmean, nstd;          /* values given: 0, 1 (all channels) or 3 */
    float mean[3], std[3];
} ng_cli_img;

enum { NG_CLI_OPT_RESIZE = 0x4ec0, NG_CLI_OPT_MEAN, NG_CLI_OPT_STD };

#define NG_CLI_IMG_LONGOPTS \
    {"resize", required_argument, NULL, NG_CLI_OPT_RESIZE}, \
    {"mean", required_argument, NULL, NG_CLI_OPT_MEAN}, \
    {"std", required_argument, NULL, NG_CLI_OPT_STD}
#define NG_CLI_IMG_HELP \
    "  --resize HxW            resize every image to HxW (bilinear; must be the model's size)\n" \
    "  --mean M[,M,M]          subtract per channel after scaling pixels to [0,1] (default 0)\n" \
    "  --std S[,S,S]           then divide per channel (default 1); e.g. ImageNet models:\n" \
    "                          --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225\n"

ng_cli_img ng_cli_img_default(void);
/* Handle one getopt_long result: 1 consumed, 0 not an image option, -1 usage error printed. */
int ng_cli_img_option(const char *cmd, ng_cli_img *o, int opt, const char *arg);
/* Image options for model m (path names it): its channels and size, the resize, mean and std. */
ng_status ng_cli_img_options(const ng_cli_img *ci, const char *path, const ng_model *m, ng_image_options *o);
/* Fail with a message naming both unless an array of shape x (batch first) fits m's input. */
ng_status ng_cli_check_array(const char *path, const ng_model *m, const ng_shape *x, const char *what);

#endif
