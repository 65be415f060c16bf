"""The run's hyperparameters for TensorBoard's HParams dashboard.

Written by rank 0 into the run's own event file: the experiment and session
start summaries when training starts, the session end summary when it stops.
The metrics the dashboard shows are the run's own scalar tags.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Dict, Tuple

from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.plugins.hparams.api_pb2 import Status
from tensorboard.plugins.hparams.metadata import PLUGIN_DATA_VERSION, PLUGIN_NAME, SESSION_END_INFO_TAG
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo
from torch.utils.tensorboard.summary import hparams

__all__ = ["session_end_summary", "session_start_summaries"]


def session_start_summaries(
    args: argparse.Namespace, world_size: int, device_type: str, train_size: int
) -> Tuple[Summary, Summary]:
    """(experiment, session start) summaries for the command's options ``args``."""
    values: Dict[str, Any] = {
        "lr": float(args.lr),
        "batch_size": int(args.batch_size),
        "epochs": int(args.epochs),
        "dataset": str(args.dataset),
        "train_size": int(train_size),
        "seed": int(args.seed),
        "world_size": int(world_size),
        "device": device_type,
        "optimizer": "Adam",
        "hooks": "off" if args.no_hooks else "on",  # a string: the hparams API stores bools as 0/1
    }
    domains = {
        "dataset": ["fashion-mnist", "synthetic"],
        "device": ["cpu", "cuda"],
        "optimizer": ["Adam"],
        "hooks": ["off", "on"],
    }
    metrics = {"Test Accuracy": 0.0, "Test Loss": 0.0, "Training Loss": 0.0}
    if not args.no_hooks:
        metrics["accuracy/test"] = 0.0
    experiment, session_start, _ = hparams(values, metrics, hparam_domain_discrete=domains)
    return experiment, session_start


def session_end_summary(success: bool) -> Summary:
    """Session end: success, or failure (interrupted; the hparams API has no
    'aborted' status)."""
    status = Status.Value("STATUS_SUCCESS" if success else "STATUS_FAILURE")
    content = HParamsPluginData(session_end_info=SessionEndInfo(status=status, end_time_secs=time.time()),
                                version=PLUGIN_DATA_VERSION)
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME,
                                                                  content=content.SerializeToString()))
    return Summary(value=[Summary.Value(tag=SESSION_END_INFO_TAG, metadata=meta)])
