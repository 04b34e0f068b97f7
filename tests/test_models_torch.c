/* tests/test_models_torch.c - the eight torchvision models of issue 13 reproduce PyTorch.
 *
 * Runs tests/gen_models.py --set large (random weights, no downloads) into the build folder, then
 * replays every model through the engine like test_torch_parity (parity.h: |ours - torch| <=
 * 1e-4 * max(1, |torch|), same argmax), at batch 2 and 2 threads. Skipped (exit 77, with the reason)
 * only when PyTorch or torchvision is absent. The small models (transformer, LSTM, GRU, MLPs) are
 * committed fixtures checked by test_torch_parity.
 * ctest-label: slow heavy
 */
#include <unistd.h>
#include "parity.h"

int main(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import torch, torchvision, onnx' 2>/dev/null", NG_PYTHON);
    if (system(cmd) != 0) {
        printf("SKIP: %s cannot import torch, torchvision and onnx (install python3-torch python3-torchvision "
               "python3-onnx: scripts/install-deps.sh --peers)\n", NG_PYTHON);
        return 77;
    }
    char dir[2048];   /* models_torch under the build folder (the test's working directory) */
    if (!getcwd(dir, sizeof dir - 64)) return 2;
    strcat(dir, "/models_torch");
    snprintf(cmd, sizeof cmd, "'%s' '%s/gen_models.py' --set large --out '%s'", NG_PYTHON, NG_TEST_DIR, dir);
    CHECKF(system(cmd) == 0, "%s failed", cmd);
    int count = check_manifest(dir);
    CHECKF(count == 8, "%d torchvision models in %s/manifest.txt, expected 8", count, dir);
    return tu_done();
}
