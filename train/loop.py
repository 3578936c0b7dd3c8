"""The training loop: one code path for CPU, one GPU, or many GPUs/nodes via `accelerate launch`.

Gradient accumulation is explicit (`no_sync` on all but the last micro-step) so the number of
micro-batches per optimizer step never depends on accelerate's internal counters, and every
piece of state that shapes the loss curve (weights, optimizer, scheduler, grad scaler, data
position, RNGs) goes into each checkpoint: a resumed run repeats the uninterrupted run's losses.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from tqdm import tqdm

from model.tokenizer import Tokenizer, load_tokenizer
from train.checkpointing import Checkpoints, Process
from train.dataset import IGNORE_INDEX, Batch, PackedStream, fixed_batches
from train.export import export_model
from train.modeling import add_residual_dropout, base_network, fresh_network
from train.optim import make_optimizer, make_scheduler
from train.recipe import Recipe
from train.runlog import RunLog, read_log
from train.shards import find_shards
from train.streams import ParallelStreams, TrainingStream, packed_stream


@dataclass
class RunResult:
    output: Path
    export: Path
    steps: int
    log: list[dict[str, Any]]


def token_loss(net: nn.Module, batch: Batch, device: torch.device) -> torch.Tensor:
    """Mean next-token cross-entropy over the non-padding targets, computed in fp32."""
    logits = net(batch.inputs.to(device))
    return F.cross_entropy(logits.float().flatten(0, 1), batch.labels.to(device).flatten(), ignore_index=IGNORE_INDEX)


@torch.no_grad()
def evaluate_loss(net: nn.Module, batches: list[Batch], device: torch.device) -> float:
    """Token-weighted mean loss over held-out batches (no dropout, no gradients)."""
    was_training = net.training
    net.eval()
    total, count = 0.0, 0
    for batch in batches:
        n = batch.target_tokens
        total += float(token_loss(net, batch, device)) * n
        count += n
    net.train(was_training)
    return total / max(count, 1)


class Trainer:
    def __init__(self, recipe: Recipe, *, base: Path | None = None, progress: bool = True) -> None:
        self.recipe, self.base, self.progress = recipe, base, progress
        settings = recipe.train
        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.accelerator = Accelerator(
            mixed_precision=settings.precision, dynamo_backend="inductor" if settings.compile else "no"
        )
        set_seed(settings.seed)
        self.output = Path(settings.output)
        self.tokenizer_dir = Path(recipe.data.tokenizer) if recipe.data.tokenizer else base
        if self.tokenizer_dir is None:
            raise ValueError("[data] tokenizer is required when training from scratch")
        self.tokenizer = load_tokenizer(self.tokenizer_dir)
        net = self._network(self.tokenizer)
        optimizer = make_optimizer(net, settings.lr, settings.weight_decay)
        # The scheduler is not handed to accelerate: its wrapper would step it once per process.
        self.scheduler = make_scheduler(optimizer, settings.steps, settings.warmup_ratio, settings.min_lr_ratio)
        self.net, self.optimizer = self.accelerator.prepare(net, optimizer)
        self.stream = self._training_stream()
        self.eval_batches = self._eval_batches()
        acc = self.accelerator
        process = Process(acc.process_index, acc.num_processes, acc.wait_for_everyone)
        self.checkpoints = Checkpoints(self.output / "checkpoints", settings.keep_checkpoints, process)
        self.step, self.tokens = 0, 0

    def _network(self, tokenizer: Tokenizer) -> nn.Module:
        recipe = self.recipe
        if self.base is not None:
            net = base_network(self.base)
        else:
            net = fresh_network(recipe.model, tokenizer.vocab_size, recipe.train.seed)
        if recipe.data.seq_len > net.config.n_positions:
            raise ValueError(f"seq_len {recipe.data.seq_len} exceeds the model's n_positions {net.config.n_positions}")
        add_residual_dropout(net, recipe.model.dropout)
        if recipe.lora is not None:
            from train.lora import apply_lora  # peft is only needed for LoRA runs

            return apply_lora(net, recipe.lora)
        return net

    def stream_for(self, paths: list[str], seed: int, shuffle_window: int = 1) -> PackedStream:
        return packed_stream(self.recipe.data, self.tokenizer, find_shards(paths), seed, shuffle_window)

    def _training_stream(self) -> TrainingStream:
        data = self.recipe.data
        if data.workers:
            return ParallelStreams(data, self.tokenizer_dir, find_shards(data.train), data.seed, data.workers)
        return self.stream_for(data.train, data.seed, data.shuffle_window)

    def _eval_batches(self) -> list[Batch]:
        if not self.recipe.data.eval:
            return []
        # Held-out contexts are fixed once (same seed, same FIM draws) so evaluations compare.
        stream = self.stream_for(self.recipe.data.eval, seed=1234)
        return fixed_batches(stream, self.recipe.train.eval_contexts, self.recipe.train.batch_size)

    @property
    def model(self) -> nn.Module:
        """The plain network: no distributed or torch.compile wrapper, state-dict names as saved."""
        return self.accelerator.unwrap_model(self.net, keep_torch_compile=False)

    # --- checkpoints ---------------------------------------------------------------------------

    def resume(self) -> None:
        latest = self.checkpoints.latest()
        if latest is None:
            return
        state = self.checkpoints.load(latest, self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.accelerator.scaler is not None and state["scaler"] is not None:
            self.accelerator.scaler.load_state_dict(state["scaler"])
        self.stream.load_state_dict(state["stream"])
        self.step, self.tokens = state["step"], state["tokens"]

    def save(self) -> Path:
        scaler = self.accelerator.scaler
        state = {
            "step": self.step,
            "tokens": self.tokens,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "stream": self.stream.state_dict(),
            "recipe": self.recipe.to_dict(),
        }
        return self.checkpoints.save(self.step, self.model, state)

    # --- training ------------------------------------------------------------------------------

    def optimizer_step(self) -> tuple[float, float, int]:
        """One optimizer step over `grad_accum` micro-batches: (mean loss, grad norm, tokens)."""
        acc, settings = self.accelerator, self.recipe.train
        losses, tokens = [], 0
        for micro in range(settings.grad_accum):
            batch = self.stream.next_batch(settings.batch_size, acc.process_index, acc.num_processes)
            last = micro == settings.grad_accum - 1
            with contextlib.nullcontext() if last else acc.no_sync(self.net):
                loss = token_loss(self.net, batch, acc.device)
                acc.backward(loss / settings.grad_accum)
            losses.append(loss.detach())
            tokens += batch.inputs.numel() * acc.num_processes
        norm = acc.clip_grad_norm_(self.net.parameters(), settings.grad_clip)
        self.optimizer.step()
        if not self.optimizer.step_was_skipped:  # fp16 overflow: the step did not happen
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        mean_loss = acc.reduce(torch.stack(losses).mean(), reduction="mean")
        return float(mean_loss), float(norm), tokens

    def run(self, resume: bool = False, deadline: float | None = None) -> RunResult:
        """Train to [train] steps, or until time.monotonic() passes `deadline`: then the run
        stops after the step in progress, saves a checkpoint and exports as at the end."""
        if resume:
            self.resume()
        elif self.checkpoints.latest() is not None:
            raise FileExistsError(f"{self.output} already has checkpoints: pass --resume, or choose another output")
        settings, main = self.recipe.train, self.accelerator.is_main_process
        log = RunLog(self.output, self.step, enabled=main)
        bar = tqdm(total=settings.steps, initial=self.step, disable=not (main and self.progress), unit="step")
        started = time.perf_counter()
        self.net.train()
        try:
            while self.step < settings.steps and not self._past(deadline):
                tick, lr = time.perf_counter(), self.scheduler.get_last_lr()[0]
                loss, norm, tokens = self.optimizer_step()
                self.step, self.tokens = self.step + 1, self.tokens + tokens
                record = self._record(loss, lr, norm, tokens / (time.perf_counter() - tick), started)
                log.write(record)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{record['tokens_per_s']:.0f}", refresh=False)
                if self.step % settings.save_every == 0 or self.step == settings.steps:
                    self.save()
        finally:
            if isinstance(self.stream, ParallelStreams):
                self.stream.close()
        if self.step % settings.save_every and self.step < settings.steps:  # stopped by the deadline
            self.save()
        bar.close()
        export = self.output / "final"
        if main:
            export_model(self.model, self.tokenizer_dir, export)
        self.accelerator.wait_for_everyone()
        return RunResult(self.output, export, self.step, read_log(log.jsonl))

    def _past(self, deadline: float | None) -> bool:
        """Whether the deadline has passed, agreed by every process (so all stop at one step)."""
        if deadline is None:
            return False
        if time.monotonic() >= deadline:
            self.accelerator.set_trigger()
        return self.accelerator.check_trigger()

    def _record(self, loss: float, lr: float, norm: float, tokens_per_s: float, started: float) -> dict[str, Any]:
        record: dict[str, Any] = {
            "step": self.step,
            "tokens": self.tokens,
            "loss": loss,
            "lr": lr,
            "grad_norm": norm,
            "tokens_per_s": tokens_per_s,
            "elapsed_s": time.perf_counter() - started,
        }
        every = self.recipe.train.eval_every
        if self.eval_batches and (self.step % every == 0 or self.step == self.recipe.train.steps):
            eval_loss = evaluate_loss(self.net, self.eval_batches, self.accelerator.device)
            record.update(eval_loss=eval_loss, eval_ppl=math.exp(min(eval_loss, 50.0)))
        return record


def train(
    recipe: Recipe, *, resume: bool = False, base: Path | None = None, progress: bool = True,
    deadline: float | None = None,
) -> RunResult:  # fmt: skip
    return Trainer(recipe, base=base, progress=progress).run(resume=resume, deadline=deadline)
