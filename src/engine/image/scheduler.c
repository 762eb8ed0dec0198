/*
 * scheduler.c: seeded normals and timestep grids (scheduler.h). Own PRNG
 * rather than rand(): a seed must give the same image on every libc.
 */
#include "engine/image/scheduler.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sched_rng_seed(struct sched_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	r->have_spare = 0;
	r->spare = 0;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sched_rng_next(struct sched_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

void sched_rng_normal(struct sched_rng *r, float *out, int n)
{
	for (int i = 0; i < n; i++) {
		if (r->have_spare) {
			r->have_spare = 0;
			out[i] = (float)r->spare;
			continue;
		}
		double u1 = ((double)(sched_rng_next(r) >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
		double u2 = (double)(sched_rng_next(r) >> 11) * 0x1.0p-53;       /* [0, 1) */
		double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
		r->spare = rad * sin(th);
		r->have_spare = 1;
		out[i] = (float)(rad * cos(th));
	}
}

void sched_timesteps(int t_max, int steps, int *ts)
{
	if (steps <= 1) {
		ts[0] = t_max;
		return;
	}
	for (int i = 0; i < steps; i++) {
		long num = (long)t_max * (steps - 1 - i);
		ts[i] = (int)((num + (steps - 1) / 2) / (steps - 1));
	}
}
