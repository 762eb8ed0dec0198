/*
 * flops.c: the machine's measured single-precision FMA peak, the reference
 * that bench/image.sh divides the engine's GFLOP/s by.
 *
 * Each thread runs 16 independent FMA chains (enough to cover FMA latency x
 * throughput on current cores) for a fixed time and counts 2 FLOPs per lane
 * per FMA. AVX-512 (16 lanes) and AVX2 (8 lanes) are measured separately
 * when present; prints "flops ISA THREADS GFLOPS" lines.
 *
 *   cc -O2 -pthread bench/flops.c -o build/bench/flops && build/bench/flops [SECONDS]
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct job {
	int isa; /* 2 = avx2, 5 = avx512 */
	double secs, flops;
	float sink;
};

#define ITERS 1000000L

__attribute__((target("avx2,fma"))) static double run_avx2(long iters, float *sink)
{
	__m256 a[16], m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
	for (int i = 0; i < 16; i++)
		a[i] = _mm256_set1_ps((float)i);
	for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++)
			a[i] = _mm256_fmadd_ps(a[i], m, c);
	}
	__m256 s = a[0];
	for (int i = 1; i < 16; i++)
		s = _mm256_add_ps(s, a[i]);
	*sink += _mm256_cvtss_f32(s);
	return (double)iters * 16 * 8 * 2;
}

__attribute__((target("avx512f"))) static double run_avx512(long iters, float *sink)
{
	__m512 a[16], m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
	for (int i = 0; i < 16; i++)
		a[i] = _mm512_set1_ps((float)i);
	for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++)
			a[i] = _mm512_fmadd_ps(a[i], m, c);
	}
	__m512 s = a[0];
	for (int i = 1; i < 16; i++)
		s = _mm512_add_ps(s, a[i]);
	*sink += _mm512_reduce_add_ps(s);
	return (double)iters * 16 * 16 * 2;
}

static void *worker(void *p)
{
	struct job *j = p;
	double t0 = now(), f = 0;
	while (now() - t0 < j->secs)
		f += j->isa == 5 ? run_avx512(ITERS / 10, &j->sink) : run_avx2(ITERS / 10, &j->sink);
	j->secs = now() - t0;
	j->flops = f;
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	__builtin_cpu_init();
	int isas[2] = {0, 0}, n = 0;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		isas[n++] = 2;
	if (__builtin_cpu_supports("avx512f"))
		isas[n++] = 5;
	for (int i = 0; i < n; i++)
		for (int nth = 1; nth <= 2; nth++) {
			struct job jobs[2];
			pthread_t th[2];
			for (int t = 0; t < nth; t++) {
				jobs[t] = (struct job){isas[i], secs, 0, 0};
				pthread_create(&th[t], NULL, worker, &jobs[t]);
			}
			double gf = 0;
			for (int t = 0; t < nth; t++) {
				pthread_join(th[t], NULL);
				gf += jobs[t].flops / jobs[t].secs / 1e9;
			}
			printf("flops %s %d %.1f\n", isas[i] == 5 ? "avx512f" : "avx2+fma", nth, gf);
		}
	return 0;
}
