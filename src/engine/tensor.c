/*
 * tensor.c: the table of ggml types, half-float conversions, and scalar
 * dequantization of one row.
 *
 * The block layouts are ggml's public file format (read as facts):
 *   Q8_0  32 values: f16 d, int8 q[32]                          x = d*q
 *   Q4_0  32 values: f16 d, u8 qs[16] (value j in the low nibble of qs[j],
 *         value j+16 in the high nibble)                        x = d*(q-8)
 *   Q4_K  256 values: f16 d, f16 dmin, u8 scales[12] (8 six-bit scales and
 *         8 six-bit mins), u8 qs[128]                           x = d*sc*q - dmin*m
 *   Q5_K  as Q4_K plus u8 qh[32] holding the fifth bit
 *   Q6_K  256 values: u8 ql[128], u8 qh[64], int8 scales[16], f16 d
 * Dequantization here is the reference that the SIMD kernels in quant.c are
 * tested against.
 */
#include "engine/tensor.h"

#include <math.h>
#include <string.h>

static const struct {
	const char *name;
	uint32_t blck, bytes;
	bool computable;
} types[TENSOR__MAX] = {
	[TENSOR_F32] = {"F32", 1, 4, true},
	[TENSOR_F16] = {"F16", 1, 2, true},
	[TENSOR_Q4_0] = {"Q4_0", 32, 18, true},
	[TENSOR_Q4_1] = {"Q4_1", 32, 20, false},
	[TENSOR_Q5_0] = {"Q5_0", 32, 22, false},
	[TENSOR_Q5_1] = {"Q5_1", 32, 24, false},
	[TENSOR_Q8_0] = {"Q8_0", 32, 34, true},
	[TENSOR_Q8_1] = {"Q8_1", 32, 36, false},
	[TENSOR_Q2_K] = {"Q2_K", 256, 84, false},
	[TENSOR_Q3_K] = {"Q3_K", 256, 110, false},
	[TENSOR_Q4_K] = {"Q4_K", 256, 144, true},
	[TENSOR_Q5_K] = {"Q5_K", 256, 176, true},
	[TENSOR_Q6_K] = {"Q6_K", 256, 210, true},
	[TENSOR_Q8_K] = {"Q8_K", 256, 292, false},
	[TENSOR_I8] = {"I8", 1, 1, false},
	[TENSOR_I16] = {"I16", 1, 2, false},
	[TENSOR_I32] = {"I32", 1, 4, false},
	[TENSOR_I64] = {"I64", 1, 8, false},
	[TENSOR_F64] = {"F64", 1, 8, false},
	[TENSOR_BF16] = {"BF16", 1, 2, true},
};

const char *tensor_type_name(uint32_t type)
{
	return type < TENSOR__MAX ? types[type].name : NULL;
}

bool tensor_type_block(uint32_t type, uint32_t *blck, uint32_t *bytes)
{
	if (type >= TENSOR__MAX || !types[type].name)
		return false;
	*blck = types[type].blck;
	*bytes = types[type].bytes;
	return true;
}

bool tensor_type_computable(uint32_t type)
{
	return type < TENSOR__MAX && types[type].computable;
}

bool tensor_row_bytes(uint32_t type, uint64_t n, size_t *out)
{
	uint32_t blck, bytes;
	if (!tensor_type_block(type, &blck, &bytes) || n % blck)
		return false;
	uint64_t nb = n / blck;
	if (nb > SIZE_MAX / bytes)
		return false;
	*out = (size_t)(nb * bytes);
	return true;
}

float tensor_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;
	uint32_t bits;
	if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else { /* subnormal: normalise */
			float f = ldexpf((float)man, -24);
			return sign ? -f : f;
		}
	} else if (exp == 31) {
		bits = sign | 0x7f800000u | (man << 13);
	} else {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t tensor_f32_to_f16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000;
	uint32_t ax = x & 0x7fffffffu;
	if (ax >= 0x7f800000u) /* inf or nan */
		return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
	if (ax >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00);
	if (ax < 0x38800000u) { /* below 2^-14: subnormal half */
		float af;
		memcpy(&af, &ax, 4);
		float r = nearbyintf(af * 16777216.0f); /* units of 2^-24 */
		return (uint16_t)(sign | (uint16_t)r);
	}
	uint32_t exp = (ax >> 23) - 112;
	uint32_t man = ax & 0x7fffff;
	uint32_t h = (exp << 10) | (man >> 13);
	uint32_t rest = man & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
		h++;
	return (uint16_t)(sign | h);
}

float tensor_bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t tensor_f32_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40);
	return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block. */
static void scale_min_k4(int j, const uint8_t *q, int *sc, int *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}

bool tensor_dequant_row(uint32_t type, const void *row, float *out, uint64_t n)
{
	const uint8_t *p = row;
	switch (type) {
	case TENSOR_F32:
		memcpy(out, row, n * 4);
		return true;
	case TENSOR_F16:
		for (uint64_t i = 0; i < n; i++)
			out[i] = tensor_f16_to_f32(rd16(p + 2 * i));
		return true;
	case TENSOR_BF16:
		for (uint64_t i = 0; i < n; i++)
			out[i] = tensor_bf16_to_f32(rd16(p + 2 * i));
		return true;
	case TENSOR_Q8_0:
		for (uint64_t b = 0; b < n / 32; b++, p += 34) {
			float d = tensor_f16_to_f32(rd16(p));
			for (int j = 0; j < 32; j++)
				out[b * 32 + j] = d * (float)(int8_t)p[2 + j];
		}
		return true;
	case TENSOR_Q4_0:
		for (uint64_t b = 0; b < n / 32; b++, p += 18) {
			float d = tensor_f16_to_f32(rd16(p));
			for (int j = 0; j < 16; j++) {
				out[b * 32 + j] = d * (float)((p[2 + j] & 0xF) - 8);
				out[b * 32 + j + 16] = d * (float)((p[2 + j] >> 4) - 8);
			}
		}
		return true;
	case TENSOR_Q4_K:
	case TENSOR_Q5_K: {
		bool five = type == TENSOR_Q5_K;
		size_t bb = five ? 176 : 144;
		for (uint64_t b = 0; b < n / 256; b++, p += bb) {
			float d = tensor_f16_to_f32(rd16(p));
			float dmin = tensor_f16_to_f32(rd16(p + 2));
			const uint8_t *sc = p + 4;
			const uint8_t *qh = five ? p + 16 : NULL;
			const uint8_t *qs = five ? p + 48 : p + 16;
			float *y = out + b * 256;
			for (int c = 0; c < 4; c++) {
				int s1, m1, s2, m2;
				scale_min_k4(2 * c, sc, &s1, &m1);
				scale_min_k4(2 * c + 1, sc, &s2, &m2);
				for (int l = 0; l < 32; l++) {
					int lo = qs[32 * c + l] & 0xF, hi = qs[32 * c + l] >> 4;
					if (five) {
						lo += ((qh[l] >> (2 * c)) & 1) << 4;
						hi += ((qh[l] >> (2 * c + 1)) & 1) << 4;
					}
					y[64 * c + l] = d * (float)s1 * (float)lo - dmin * (float)m1;
					y[64 * c + 32 + l] = d * (float)s2 * (float)hi - dmin * (float)m2;
				}
			}
		}
		return true;
	}
	case TENSOR_Q6_K:
		for (uint64_t b = 0; b < n / 256; b++, p += 210) {
			const uint8_t *ql = p, *qh = p + 128;
			const int8_t *sc = (const int8_t *)(p + 192);
			float d = tensor_f16_to_f32(rd16(p + 208));
			float *y = out + b * 256;
			for (int h = 0; h < 2; h++) {
				for (int l = 0; l < 32; l++) {
					int is = l / 16;
					int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
					int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
					int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
					int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
					y[l] = d * sc[is] * q1;
					y[l + 32] = d * sc[is + 2] * q2;
					y[l + 64] = d * sc[is + 4] * q3;
					y[l + 96] = d * sc[is + 6] * q4;
				}
				y += 128;
				ql += 64;
				qh += 32;
				sc += 8;
			}
		}
		return true;
	default:
		return false;
	}
}
