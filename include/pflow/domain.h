/* Domains: the convex sets targets live on (unconstrained, box, orthant,
 * simplex, ball, polytope), plug-ins chosen by name (`domain: {name: box,
 * lower: 0, upper: 1}`).  A domain answers membership, Euclidean projection,
 * reflection of a step, chords (the segment of a line inside the set) and,
 * where one is defined, a mirror map.  Samplers ask the domain; they never
 * special-case a shape.
 *
 * Every domain is a full-dimensional subset of R^dim, except the simplex in
 * `coords: full` mode (dim = D coordinates on the plane sum x = 1).  The
 * default simplex mode is `coords: reduced`: dim = D - 1 coordinates theta,
 * theta_D = 1 - sum(theta) implied, the parametrization mirror maps use.
 *
 * Thread safety: a domain is immutable after creation; every function below
 * may be called concurrently on the same domain provided each thread passes
 * its own `work` buffer of pf_domain_work_len() doubles.  No function
 * allocates memory after creation. */
#ifndef PFLOW_DOMAIN_H
#define PFLOW_DOMAIN_H

#include <stddef.h>

#include "pflow/config.h"
#include "pflow/registry.h"
#include "pflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Membership tolerance used when a caller has no better one: a point is
 * inside when every constraint is violated by at most PF_DOMAIN_TOL (scaled
 * by the constraint's norm for polytopes, by the radius for the ball). */
#define PF_DOMAIN_TOL 1e-12

/* What one reflection did: faces hit, and whether the bounce cap was reached
 * and the point was projected instead (a counted fallback). */
typedef struct pf_reflect_info {
  unsigned bounces;
  unsigned fallback;
} pf_reflect_info;

/* A mirror map psi on the domain's interior.  x is a primal point (dim),
 * eta = grad psi(x) a dual point (dim).  All functions are per point. */
typedef struct pf_mirror_ops {
  const char *name; /* "identity", "entropic", "tanh", "log_barrier", ... */
  /* eta = grad psi(x) */
  int (*grad_psi)(const void *ctx, const double *x, double *eta, double *work);
  /* x = grad psi*(eta) (the inverse map); may iterate (log barrier: damped
   * Newton), returning PF_ENOCONV when it does not converge. */
  int (*grad_psi_star)(const void *ctx, const double *eta, double *x,
                       double *work);
  /* out = hess psi(x) v and out = hess psi(x)^-1 v */
  int (*hess_psi_vec)(const void *ctx, const double *x, const double *v,
                      double *out, double *work);
  int (*hess_psi_inv_vec)(const void *ctx, const double *x, const double *v,
                          double *out, double *work);
  /* log det hess psi*(eta) and its gradient with respect to eta, both
   * evaluated at the primal point x = grad psi*(eta) (so callers holding x
   * need not invert the map).  The gradient equals div_x hess psi(x)^-1
   * (row divergence).  grad may be NULL. */
  int (*logdet_hess_psi_star)(const void *ctx, const double *x, double *val,
                              double *grad, double *work);
} pf_mirror_ops;

typedef struct pf_domain_ops {
  pf_plugin base;
  /* A config section for the conformance tests, as a YAML flow mapping with
   * the name; created with pf_domain_create(..., example_dim). */
  const char *example;
  size_t example_dim;
  /* Build from a validated section.  `dim` is the dimension the target
   * expects (0: take it from the section, e.g. from the length of `lower`);
   * raise PF_ECONFIG naming the key when the two disagree.  *ctx is owned by
   * the domain; *dim_out receives the dimension. */
  int (*create)(const pf_node *cfg, size_t dim, void **ctx, size_t *dim_out);
  void (*destroy)(void *ctx);
  /* Scratch doubles each call below needs (0 if none). */
  size_t (*work_len)(const void *ctx);
  /* 1 if x is inside up to tol (see PF_DOMAIN_TOL), else 0. */
  int (*contains)(const void *ctx, const double *x, double tol);
  /* Euclidean projection, in place.  PF_ENOCONV when an iterative method
   * hits its cap (x then holds the last iterate). */
  int (*project)(const void *ctx, double *x, double *work);
  /* x <- the end point of the step x -> x + v reflected at the boundary
   * (folding for the box, specular/billiard elsewhere).  x must be inside. */
  int (*reflect)(const void *ctx, double *x, const double *v, double *work,
                 pf_reflect_info *info);
  /* For x inside and a direction u: the interval [*tlo, *thi] of t with
   * x + t u inside (infinite ends allowed).  For `coords: full` simplex, u
   * must satisfy sum u = 0. */
  int (*chord)(const void *ctx, const double *x, const double *u,
               double *tlo, double *thi);
  /* One random interior point (a documented spread-out law).  Used to
   * initialize particles.  NULL: one exact uniform draw (sample_uniform). */
  int (*interior)(const void *ctx, pf_rng *rng, double *x, double *work);
  /* Optional (NULL when unknown): n exact uniform draws; log of the volume
   * (Lebesgue measure in the coordinates used). */
  int (*sample_uniform)(const void *ctx, pf_rng *rng, size_t n, double *X,
                        double *work);
  int (*log_volume)(const void *ctx, double *out);
  /* 1 if bounded. */
  int (*bounded)(const void *ctx);
  /* NULL when the domain has no mirror map. */
  const pf_mirror_ops *mirror;
  /* Optional: when set, it decides per instance and overrides `mirror`
   * (e.g. the simplex has its entropic map in `coords: reduced` only and
   * returns NULL in `coords: full`).  `mirror` then names the map the kind
   * offers in its default mode.  Use pf_domain_mirror(), never the fields. */
  const pf_mirror_ops *(*mirror_of)(const void *ctx);
} pf_domain_ops;

typedef struct pf_domain pf_domain;

/* Create the domain described by `cfg` (a validated `{name: ..., ...}`
 * section; NULL means unconstrained) for a target of dimension dim (0: from
 * the section).  The caller owns *out. */
int pf_domain_create(const pf_node *cfg, size_t dim, pf_domain **out);
/* Same from YAML flow text such as "{name: simplex}", validated against the
 * domain's spec; for targets that imply their domain.  `what` names the
 * caller in error messages. */
int pf_domain_create_str(const char *yaml, size_t dim, const char *what,
                         pf_domain **out);
/* The unconstrained domain R^dim. */
int pf_domain_create_free(size_t dim, pf_domain **out);
/* NULL-safe; clears the pointer. */
void pf_domain_destroy(pf_domain **d);

const pf_domain_ops *pf_domain_ops_of(const pf_domain *d);
const char *pf_domain_name(const pf_domain *d);
size_t pf_domain_dim(const pf_domain *d);
size_t pf_domain_work_len(const pf_domain *d);
int pf_domain_bounded(const pf_domain *d);
/* 1 for the unconstrained domain (samplers may then skip domain calls). */
int pf_domain_is_free(const pf_domain *d);

/* Wrappers of the ops above (see pf_domain_ops for the contracts). */
int pf_domain_contains(const pf_domain *d, const double *x, double tol);
int pf_domain_project(const pf_domain *d, double *x, double *work);
int pf_domain_reflect(const pf_domain *d, double *x, const double *v,
                      double *work, pf_reflect_info *info);
int pf_domain_chord(const pf_domain *d, const double *x, const double *u,
                    double *tlo, double *thi);
int pf_domain_interior(const pf_domain *d, pf_rng *rng, double *x,
                       double *work);
/* PF_ENOTSUP when the domain lacks them. */
int pf_domain_sample_uniform(const pf_domain *d, pf_rng *rng, size_t n,
                             double *X, double *work);
int pf_domain_log_volume(const pf_domain *d, double *out);

/* The mirror map of this instance (ops->mirror_of(ctx) when the kind has
 * it, else ops->mirror), or NULL.  Call its functions with
 * pf_domain_ctx(d). */
const pf_mirror_ops *pf_domain_mirror(const pf_domain *d);
const void *pf_domain_ctx(const pf_domain *d);

#ifdef __cplusplus
}
#endif
#endif
