// Side-by-side driver: runs hnswlib on the datasets vib3-indexbench --export wrote, with the same M, efConstruction,
// k and ef values, one thread, and prints the same table (recall@10, q/s, distance computations per query).
// hnswlib is not part of this repository: pass its include directory at compile time (see README.md).
//
// Distance computations are counted by wrapping the space's distance function, so every computation counts
// (upper-layer descent included), exactly as vib3's counter does (hnswlib's own metric_distance_computations is only
// updated on some search paths and counts visited neighbours too, so it is not used).
#include <hnswlib/hnswlib.h>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static long long g_distances = 0;

struct Wrapped {
    hnswlib::DISTFUNC<float> inner;
    void* param;
};

static float counting_distance(const void* a, const void* b, const void* param) {
    ++g_distances;
    auto w = static_cast<const Wrapped*>(param);
    return w->inner(a, b, w->param);
}

class CountingSpace : public hnswlib::SpaceInterface<float> {
  public:
    explicit CountingSpace(hnswlib::SpaceInterface<float>* inner) : inner_(inner) {
        w_.inner = inner->get_dist_func();
        w_.param = inner->get_dist_func_param();
    }
    size_t get_data_size() override { return inner_->get_data_size(); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return counting_distance; }
    void* get_dist_func_param() override { return &w_; }

  private:
    hnswlib::SpaceInterface<float>* inner_;
    Wrapped w_;
};

template <typename T> static std::vector<T> load(const std::string& path, size_t n) {
    std::vector<T> v(n);
    std::ifstream f(path, std::ios::binary);
    if (!f.read(reinterpret_cast<char*>(v.data()), n * sizeof(T))) { fprintf(stderr, "cannot read %s\n", path.c_str()); exit(1); }
    return v;
}

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: driver DIR [name...]\n"); return 2; }
    std::string dir = argv[1];
    const int M = 16, efC = 200;
    const int efs[] = {10, 16, 32, 64, 128, 256, 512, 1024, 2048};
    std::ifstream manifest(dir + "/manifest.txt");
    std::string line;
    while (std::getline(manifest, line)) {
        std::istringstream in(line);
        std::string name, metric;
        size_t n, dims, nq, k;
        in >> name >> metric >> n >> dims >> nq >> k;
        if (argc > 2) {
            bool wanted = false;
            for (int i = 2; i < argc; i++) wanted |= name == argv[i];
            if (!wanted) continue;
        }
        auto base = load<float>(dir + "/" + name + ".base.f32", n * dims);
        auto query = load<float>(dir + "/" + name + ".query.f32", nq * dims);
        auto gtscore = load<float>(dir + "/" + name + ".gtscore.f32", nq * k);
        hnswlib::SpaceInterface<float>* inner = metric == "l2" ? static_cast<hnswlib::SpaceInterface<float>*>(new hnswlib::L2Space(dims))
                                                               : new hnswlib::InnerProductSpace(dims);
        CountingSpace space(inner);
        g_distances = 0;  // the previous dataset's searches must not count towards this build
        auto t0 = std::chrono::steady_clock::now();
        hnswlib::HierarchicalNSW<float> index(&space, n, M, efC, 100);
        for (size_t i = 0; i < n; i++) index.addPoint(base.data() + i * dims, i);
        double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        printf("\n## hnswlib %s: %zu x %zu, %s; build %.1f s (%.0f inserts/s, %.0f distances/insert), max level %d\n", name.c_str(), n, dims,
               metric.c_str(), build, n / build, g_distances / (double)n, index.maxlevel_);
        printf("%6s %10s %10s %11s\n", "ef", "recall@10", "q/s", "dist/query");
        index.setEf(32);
        for (int pass = 0; pass < 3; pass++)  // warm-up, as the vib3 bench does
            for (size_t q = 0; q < nq; q++) index.searchKnn(query.data() + q * dims, k);
        for (int ef : efs) {
            index.setEf(ef);
            g_distances = 0;
            long long hits = 0;
            auto s0 = std::chrono::steady_clock::now();
            for (size_t q = 0; q < nq; q++) {
                auto result = index.searchKnn(query.data() + q * dims, k);
                // vib3 scores: L2 −|a−b|² (hnswlib returns |a−b|²), inner product a·b (hnswlib returns 1 − a·b).
                // Rounding differs from vib3's SIMD, so a tiny relative tolerance (ann-benchmarks uses 1e-3).
                float kth = gtscore[q * k + k - 1];
                float tol = 1e-5f * std::fabs(kth) + 1e-6f;
                while (!result.empty()) {
                    float d = result.top().first;
                    float score = metric == "l2" ? -d : 1.0f - d;
                    if (score >= kth - tol) hits++;
                    result.pop();
                }
            }
            double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
            printf("%6d %10.4f %10.0f %11.0f\n", ef, hits / (double)(nq * k), nq / secs, g_distances / (double)nq);
        }
        delete inner;
    }
    return 0;
}
