"""The one-time warnings of the training side: what is not logged, why, and
the fix. Each is said once per monitor (``TrainingHooks._warn_once``) and
listed in ``docs/hooks.md`` ("What is not logged, and the warning that says
so (training)")."""

#: One-time warnings: key -> message.
WARNINGS = {
    "compiled without module hooks": (
        "activation statistics are not logged: the compiled model does not call the per-module hooks (code that "
        "torch.compile compiled before attach_hooks does not see hooks added afterwards). Call attach_hooks "
        "before torch.compile"
    ),
    "no forward": (
        "activation statistics and the graph are not logged: no training forward of the model reached the hooks "
        "before optimizer step {step}. Code that torch.compile compiled before attach_hooks (a compiled function "
        "calling the model, or a compiled torch.nn container such as nn.Sequential) does not call hooks added "
        "afterwards: call attach_hooks before torch.compile"
    ),
    "sharded without optimizer": (
        "gradients and update ratios are not logged: the model is sharded with FSDP2 (fully_shard) and no "
        "optimizer= was passed, and without it they would be read per rank before FSDP reduces and shards them. "
        "Pass optimizer= to attach_hooks"
    ),
    "forwards per step": (
        "gradients and update ratios of step {step} are not logged: {why}. Without optimizer=, every training "
        "forward counts as a step, so when several training forwards make one optimizer step (a GAN's "
        "discriminator on real and fake batches, siamese or consistency losses, gradient accumulation) "
        "monitor.step counts forwards and a step's gradients and update cannot be measured. Pass optimizer= "
        "to attach_hooks"
    ),
    "sharded graph": (
        "graph not logged: the model is sharded with FSDP2 (fully_shard), and tracing it on rank 0 alone would "
        "run all-gathers that the other ranks do not join"
    ),
}
