/* `projected_svgd`: SVGD on the primal points followed by the Euclidean
 * projection of every particle that left the target's domain (the
 * baseline of Shi, Liu & Mackey 2022, who pair it with the IMQ kernel and
 * RMSProp at step 1e-4 on the simplex).  On a sparse Dirichlet it fails:
 * projected particles sit on faces where the score is huge and the kernel
 * interaction cannot pull them back (see the reproduction config).  The
 * `projections` column counts projected particles per step. */
#include "pflow/kernel.h"
#include "pflow/sampler.h"
#include "svgd.h"

static int psvgd_create(const pf_node *cfg, pf_target *t, size_t n, size_t d,
                        void **state)
{
  return pf__svgd_create(cfg, t, n, d, PF__SVGD_PROJECT, state);
}

static const pf_param psvgd_params[] = {
    PF__SVGD_PARAM_KERNEL("{name: imq, bandwidth: median_ref}"),
    PF__SVGD_PARAM_EVERY,
    PF__OPT_PARAMS("rmsprop", "1e-4"),
    {NULL, 0, NULL, NULL, NULL, 0, NULL, NULL}};

const pf_sampler_ops pf_sampler_projected_svgd = {
    .base = {"projected_svgd",
             "SVGD followed by Euclidean projection onto the target's domain",
             psvgd_params},
    .example = "{name: projected_svgd, n_particles: 300, n_iter: 400, "
               "kernel: {name: rbf, bandwidth: median_log}, optimizer: "
               "adagrad, step_size: 0.1, init_scale: 2}",
    .info_names = pf__svgd_info,
    .n_info = PF__SVGD_N_INFO_PROJECT,
    .create = psvgd_create,
    .destroy = pf__svgd_destroy,
    .init = pf__svgd_init,
    .step = pf__svgd_step,
    .state = pf__svgd_state,
};
