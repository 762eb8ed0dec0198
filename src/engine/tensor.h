/*
 * tensor.h: ggml tensor types as stored in GGUF files, their block sizes, and
 * the half-precision conversions every kernel needs.
 *
 * The type numbers are those of the GGUF format (ggml's enum), so a value read
 * from a file indexes the table directly. Only some types can be computed with
 * (tensor_type_computable); the others are known so that a file holding them
 * can still be opened and described, and refused with a clear message.
 */
#ifndef ATELIER_ENGINE_TENSOR_H
#define ATELIER_ENGINE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tensor_type {
	TENSOR_F32 = 0,
	TENSOR_F16 = 1,
	TENSOR_Q4_0 = 2,
	TENSOR_Q4_1 = 3,
	TENSOR_Q5_0 = 6,
	TENSOR_Q5_1 = 7,
	TENSOR_Q8_0 = 8,
	TENSOR_Q8_1 = 9,
	TENSOR_Q2_K = 10,
	TENSOR_Q3_K = 11,
	TENSOR_Q4_K = 12,
	TENSOR_Q5_K = 13,
	TENSOR_Q6_K = 14,
	TENSOR_Q8_K = 15,
	TENSOR_I8 = 24,
	TENSOR_I16 = 25,
	TENSOR_I32 = 26,
	TENSOR_I64 = 27,
	TENSOR_F64 = 28,
	TENSOR_BF16 = 30,
	TENSOR__MAX = 40
};

#define TENSOR_MAX_DIMS 4

/* A tensor as found in a model file: data points into the mapping (borrowed).
 * ne[0] is the contiguous axis (a weight matrix of shape (out, in) has
 * ne[0] = in, ne[1] = out). */
struct tensor {
	const char *name;
	uint32_t type;            /* enum tensor_type */
	uint32_t n_dims;
	uint64_t ne[TENSOR_MAX_DIMS]; /* unused dims are 1 */
	uint64_t offset;          /* from the start of the data section */
	size_t nbytes;
	const void *data;
};

/* Name of a type ("Q4_K"), or NULL when the number is unknown. */
const char *tensor_type_name(uint32_t type);

/* Elements per block and bytes per block; false when the type is unknown. */
bool tensor_type_block(uint32_t type, uint32_t *blck, uint32_t *bytes);

/* Whether the engine has kernels for weights of this type. */
bool tensor_type_computable(uint32_t type);

/* Bytes of a row of n elements; false when n is not a whole number of
 * blocks or the type is unknown. */
bool tensor_row_bytes(uint32_t type, uint64_t n, size_t *out);

/* Conversions between float and IEEE half / bfloat16 (round to nearest even). */
float tensor_f16_to_f32(uint16_t h);
uint16_t tensor_f32_to_f16(float f);
float tensor_bf16_to_f32(uint16_t h);
uint16_t tensor_f32_to_bf16(float f);

/* Dequantize one row of n elements of the given type into out (scalar, for
 * embeddings lookup and tests). Returns false for a non-computable type. */
bool tensor_dequant_row(uint32_t type, const void *row, float *out, uint64_t n);

#endif
