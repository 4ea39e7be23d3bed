/* The reference for `verification bench gemm`: OpenBLAS's cblas_sgemm called from C directly.
   Usage: sgemm M N K SECONDS   → prints the best GFLOP/s of five timed batches.
   Built by the bench command with `cc -O2 sgemm.c -ldl`; OpenBLAS is opened with dlopen so no -dev package is needed. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: sgemm M N K SECONDS\n"); return 2; }
    int m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]);
    double seconds = atof(argv[4]);
    void *lib = dlopen("libopenblas.so.0", RTLD_NOW);
    if (!lib) { fprintf(stderr, "libopenblas.so.0 not found\n"); return 3; }
    sgemm_fn sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
    srand(1);
    for (int i = 0; i < m * k; i++) a[i] = rand() / (float)RAND_MAX;
    for (int i = 0; i < k * n; i++) b[i] = rand() / (float)RAND_MAX;
    for (int w = 0; w < 3; w++) sgemm(101, 111, 111, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    double best = 0;
    for (int batch = 0; batch < 5; batch++) {
        int reps = 0;
        double start = now(), elapsed;
        do { sgemm(101, 111, 111, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n); reps++; } while ((elapsed = now() - start) < seconds / 5);
        double gflops = 2.0 * m * n * k * reps / elapsed / 1e9;
        if (gflops > best) best = gflops;
    }
    printf("%.2f\n", best);
    return 0;
}
