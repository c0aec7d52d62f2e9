/* Vector math: thin array wrappers over SLEEF's AVX2+FMA functions (u10:
 * at most 1.0 ULP error; the ISA is fixed at build time so results are the
 * same on every run of a build, whatever the thread count).  Outputs may
 * alias inputs.  Thread-safe. */
#ifndef PFLOW_VMATH_H
#define PFLOW_VMATH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Documented maximum error of the wrapped SLEEF functions, in ULP. */
#define PF_VM_ULP 1.0

void pf_vm_exp(size_t n, const double *x, double *y);
void pf_vm_log(size_t n, const double *x, double *y);
void pf_vm_log1p(size_t n, const double *x, double *y);
void pf_vm_expm1(size_t n, const double *x, double *y);
void pf_vm_sincos(size_t n, const double *x, double *s, double *c);

/* In place Box-Muller: pairs (u[2k], u[2k+1]) of uniforms in (0, 1] become
 * two independent standard normals sqrt(-2 log u1) * (cos, sin)(2 pi u2). */
void pf_vm_box_muller(size_t npairs, double *u);

/* SIMD instruction set the wrappers were built for ("avx2"). */
const char *pf_vm_isa(void);

#ifdef __cplusplus
}
#endif
#endif
