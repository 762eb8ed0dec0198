/*
 * scheduler.h: the random numbers and timestep grids of image sampling.
 *
 * Seeds must reproduce exactly on every machine and in the Python reference
 * (tools/image_ref.py implements the same): xoshiro256** seeded through
 * splitmix64, uniform doubles from the top 53 bits, standard normals by
 * Box-Muller in pairs (cos first, then sin), rounded to float.
 */
#ifndef ATELIER_ENGINE_IMAGE_SCHEDULER_H
#define ATELIER_ENGINE_IMAGE_SCHEDULER_H

#include <stdint.h>

struct sched_rng {
	uint64_t s[4];
	int have_spare;
	double spare;
};

void sched_rng_seed(struct sched_rng *r, uint64_t seed);
uint64_t sched_rng_next(struct sched_rng *r);
/* Fill out[n] with standard normal floats. */
void sched_rng_normal(struct sched_rng *r, float *out, int n);

/* Timesteps for a steps-step sampler starting at t_max (usually T-1), descending:
 * ts[i] = round(t_max (steps-1-i) / (steps-1)) (ts[0] = t_max, ts[steps-1] = 0);
 * one step gives ts[0] = t_max. steps in 1..t_max+1. */
void sched_timesteps(int t_max, int steps, int *ts);

#endif
