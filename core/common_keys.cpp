// The fixed config vocabulary of DESIGN.md that is not owned by a single
// component. Component-specific keys are declared next to their readers.
#include "core/schema.h"

namespace uda::config {
namespace {
using T = Type;
const KeyRegistrar kCommonKeys({
    {"algorithm.name", T::String, "source_only", "Registered name of the training algorithm (see `uda config doc`)."},
    {"train.max_iters", T::Int, 40000, "Number of training iterations (optimizer steps)."},
    {"train.seed", T::Int, 0, "Seed of every random stream (samplers, augmentation, init)."},
    {"train.eval_interval", T::Int, 4000, "Evaluate every N iterations (0 = only at the end)."},
    {"train.checkpoint_interval", T::Int, 4000, "Write a checkpoint every N iterations (0 = only at the end)."},
    {"train.keep_checkpoints", T::Int, 3, "How many most recent checkpoints to keep (plus the best)."},
    {"train.log_interval", T::Int, 50, "Write a metrics line every N iterations."},
    {"data.batch_per_rank", T::Int, 2, "Samples per domain per rank per iteration."},
    {"data.workers", T::Int, 4, "Loader threads per rank."},
    // Domain generalization (docs/DG.md): read by the data pipeline and by
    // `uda collect`, written per job by `uda sweep` (protocol domainbed).
    {"data.test_domains", T::Array, nlohmann::json::array(),
     "Domain generalization: the held-out test domains of data.source, as indices (or names), e.g. [0]."},
    {"data.split_seed", T::Int, 0, "Domain generalization: seed of every domain's in/out split (DomainBed's trial_seed)."},
    {"data.holdout_fraction", T::Number, 0.2, "Domain generalization: fraction of each domain held out as its out split."},
    {"train.hparams_seed", T::Int, 0,
     "Domain generalization: which DomainBed hyper-parameter draw the run uses (0 = defaults); informational."},
    {"runtime.device", T::String, "auto", "Device of each rank: auto|cpu|cuda.", false, {"auto", "cpu", "cuda"}},
    {"runtime.precision", T::String, "fp32", "Arithmetic precision: fp32|bf16|fp16 (autocast).", false, {"fp32", "bf16", "fp16"}},
    {"runtime.intra_op_threads", T::Int, 0, "Intra-op threads per rank on CPU (0 = cores / local ranks)."},
    {"runtime.scale_rule", T::String, "none",
     "How a single-GPU recipe is scaled to the global batch: none|linear|sqrt (docs/SCALING.md).", false,
     {"none", "linear", "sqrt"}},
    {"runtime.reference_batch", T::Int, 0,
     "Global batch the recipe was published with (per domain); 0 = data.batch_per_rank (1 rank)."},
    {"runtime.sync_bn", T::Bool, false, "Synchronise BatchNorm statistics across ranks."},
});
}  // namespace
}  // namespace uda::config
