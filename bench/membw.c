/*
 * membw.c: memory bandwidth on this machine, the ceiling for token generation.
 *
 *   membw [THREADS] [MIB]   prints "read GB/s" and "copy GB/s" for the thread count
 *
 * Read: each thread sums its share of a buffer much larger than the caches
 * with 256-bit loads (what the matvec kernels do). Copy: memcpy of shares.
 * Best of 5 runs.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>

struct job {
	const char *src;
	char *dst;
	size_t n;
	int copy;
	double sink;
};

__attribute__((target("avx2"))) static void *work(void *arg)
{
	struct job *j = arg;
	if (j->copy) {
		memcpy(j->dst, j->src, j->n);
		return NULL;
	}
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	for (size_t i = 0; i + 128 <= j->n; i += 128) {
		a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(j->src + i)));
		a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(j->src + i + 32)));
		a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(j->src + i + 64)));
		a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(j->src + i + 96)));
	}
	a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
	j->sink = (double)_mm256_extract_epi64(a0, 0);
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(int nt, char *src, char *dst, size_t n, int copy)
{
	pthread_t t[64];
	struct job j[64];
	double best = 0;
	for (int rep = 0; rep < 5; rep++) {
		double t0 = now();
		for (int i = 0; i < nt; i++) {
			j[i] = (struct job){src + i * (n / nt), dst + i * (n / nt), n / nt, copy, 0};
			pthread_create(&t[i], NULL, work, &j[i]);
		}
		for (int i = 0; i < nt; i++)
			pthread_join(t[i], NULL);
		double gbs = (double)n * (copy ? 2 : 1) / (now() - t0) / 1e9;
		if (gbs > best)
			best = gbs;
	}
	return best;
}

int main(int argc, char **argv)
{
	int nt = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 1;
	size_t mib = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 512;
	if (nt < 1 || nt > 64 || mib < 16 || mib > 8192) {
		fprintf(stderr, "usage: membw [THREADS 1..64] [MIB 16..8192]\n");
		return 2;
	}
	size_t n = mib << 20;
	char *src = aligned_alloc(4096, n), *dst = aligned_alloc(4096, n);
	if (!src || !dst)
		return 1;
	memset(src, 1, n);
	memset(dst, 2, n);
	printf("threads %d read %.2f GB/s copy %.2f GB/s\n", nt, run(nt, src, dst, n, 0), run(nt, src, dst, n, 1));
	free(src);
	free(dst);
	return 0;
}
