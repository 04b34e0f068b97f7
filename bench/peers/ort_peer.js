// bench/peers/ort_peer.js MODEL.onnx C H W BATCH ITERS - ONNX Runtime (npm onnxruntime-node, CPU provider,
// 2 intra-op threads, 1 inter-op, all graph optimisations) on random input: prints the median seconds per
// batch of ITERS runs after 2 warm-up runs. Run by scripts/bench_ort.sh with NODE_PATH set.
const ort = require('onnxruntime-node');
async function main() {
    const [model, c, h, w, batch, iters] = process.argv.slice(2);
    const dims = [Number(batch), Number(c), Number(h), Number(w)];
    const s = await ort.InferenceSession.create(model, {
        executionProviders: ['cpu'], intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all'});
    const n = dims.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.random();
    const feeds = {[s.inputNames[0]]: new ort.Tensor('float32', x, dims)};
    for (let i = 0; i < 2; i++) await s.run(feeds);
    const t = [];
    for (let i = 0; i < Number(iters); i++) {
        const t0 = process.hrtime.bigint();
        await s.run(feeds);
        t.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    t.sort((a, b) => a - b);
    console.log(t[Math.floor(t.length / 2)].toFixed(6));
}
main().catch(e => { console.error('ort_peer: ' + e); process.exit(1); });
