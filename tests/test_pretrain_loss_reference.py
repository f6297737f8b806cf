"""Each method's ``loss`` against its paper's equation, written here from the projector and
predictor outputs the method itself produced, value and gradient.

The gradient check is what proves the stop-gradient: the reference detaches exactly the branch
the paper stops (SimSiam's and NNCLR's neighbour/target side, BYOL's target network), so the
gradient ``loss`` sends into each projector output must equal the reference's, i.e. nothing
arrives through the stopped branch. A SimSiam without ``detach`` computes the same value and
fails here, where the one-step and fast-step tests (which compare two paths through the same
loss) pass.
"""

from __future__ import annotations

import pytest
import torch

from evalsuite.registry import METHODS, get

N, TAU = 8, 0.2
#: Tiny heads: every shape the paper's heads have, at a few units.
SMALL = {
    "simsiam": dict(dim=16, proj_layers=2, pred_hidden=4),
    "byol": dict(hidden=32, dim=16, total_steps=10),
    "simclr": dict(hidden=32, dim=16, temperature=TAU),
    "nnclr": dict(proj_dims=(32, 16), pred_dims=(32, 16), queue_size=12, temperature=TAU),
}


def unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


def _run(name: str):
    """Build the method, call its ``loss`` on two views and backpropagate; returns the model,
    the loss and every projector (and BYOL target-projector) output in call order, with the
    gradient the loss sent into each."""
    torch.manual_seed(0)
    model = get(METHODS, name)(arch="resnet_tiny", **SMALL[name])
    if name == "nnclr":  # a filled support set, so the neighbour is a stored row, not the view itself
        model.queue.copy_(unit(torch.randn(12, 16)))
        model.queue_filled.fill_(12)
    outputs = {"projector": [], "target_projector": []}

    def keep(kind):
        def hook(module, args, out):
            if out.requires_grad:
                out.retain_grad()
            outputs[kind].append(out)
        return hook

    for kind in outputs:
        if hasattr(model, kind):
            getattr(model, kind).register_forward_hook(keep(kind))
    queue = model.queue.clone() if name == "nnclr" else None
    g = torch.Generator().manual_seed(1)
    views = [torch.rand(N, 3, 16, 16, generator=g), torch.rand(N, 3, 16, 16, generator=g)]
    loss = model.loss(views)["loss"]
    loss.backward()
    return model, loss, outputs, queue


def _leaves(outputs):
    return [z.detach().clone().requires_grad_(True) for z in outputs["projector"]]


def simsiam_reference(model, z1, z2, _):
    """Chen & He 2021, Eq. 1-2: D(p, z) = -p/||p|| . z/||z||; L = D(p1, sg(z2))/2 + D(p2, sg(z1))/2."""
    p1, p2 = model.predictor(z1), model.predictor(z2)
    d = lambda p, z: -(unit(p) * unit(z.detach())).sum(1).mean()  # noqa: E731
    return d(p1, z2) / 2 + d(p2, z1) / 2


def byol_reference(model, z1, z2, targets):
    """Grill et al. 2020, Eq. 2: ||q/||q|| - z'/||z'|| ||^2 with z' the target network's projection
    (no gradient), symmetrised by swapping the views."""
    t1, t2 = targets
    q1, q2 = model.predictor(z1), model.predictor(z2)
    return ((unit(q1) - unit(t2)) ** 2).sum(1).mean() + ((unit(q2) - unit(t1)) ** 2).sum(1).mean()


def simclr_reference(model, z1, z2, _):
    """Chen et al. 2020, Eq. 1, one anchor at a time over the 2N views: -log exp(sim(i, j)/tau) /
    sum over k != i of exp(sim(i, k)/tau); views ordered view 1 then view 2."""
    z = unit(torch.cat([z1, z2]))
    terms = []
    for i in range(2 * N):
        j = (i + N) % (2 * N)
        others = torch.stack([z[i] @ z[k] for k in range(2 * N) if k != i]) / TAU
        terms.append(torch.logsumexp(others, 0) - z[i] @ z[j] / TAU)
    return torch.stack(terms).mean()


def nnclr_reference(model, z1, z2, queue):
    """Dwibedi et al. 2021, Eq. 2-3: NN(z, Q) is the support-set row of highest cosine, a stored
    vector (no gradient); row i of NN(z1, Q) must pick p2_i among the batch's p2 at tau;
    symmetrised with the views swapped, each half weighted 1/2."""
    def nn(z):
        best = [max(range(len(queue)), key=lambda r: float(unit(z[i:i + 1].detach())[0] @ queue[r])) for i in range(N)]
        return queue[best]

    def info_nce(anchor, positive):
        logits = unit(anchor) @ unit(positive).T / TAU  # (N, N)
        return torch.stack([torch.logsumexp(logits[i], 0) - logits[i, i] for i in range(N)]).mean()

    p1, p2 = model.predictor(z1), model.predictor(z2)
    return info_nce(nn(z1), p2) / 2 + info_nce(nn(z2), p1) / 2


REFERENCES = {"simsiam": simsiam_reference, "byol": byol_reference, "simclr": simclr_reference,
              "nnclr": nnclr_reference}


def test_every_method_has_a_reference():
    from evalsuite.registry import names

    self_supervised = {n for n in names(METHODS) if not get(METHODS, n).needs_labels}
    missing = self_supervised - set(REFERENCES)
    assert not missing, f"write the paper's equation for {sorted(missing)} here"


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_loss_and_its_gradient_match_the_paper(name, one_thread):
    model, loss, outputs, queue = _run(name)
    z1, z2 = _leaves(outputs)
    extra = queue if name == "nnclr" else [t.detach() for t in outputs["target_projector"]]
    ref = REFERENCES[name](model, z1, z2, extra)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    want = torch.autograd.grad(ref, [z1, z2])
    for got, expected, view in zip(outputs["projector"], want, (1, 2)):
        assert got.grad is not None and expected.abs().max() > 0, view
        # what arrives beyond the reference's gradient came through a branch the paper stops
        through_stopped = (got.grad - expected).abs().max().item()
        assert through_stopped <= 1e-6 * expected.abs().max().item() + 1e-9, (view, through_stopped)


def test_byol_target_branch_gets_no_gradient(one_thread):
    model, _, outputs, _ = _run("byol")
    assert len(outputs["target_projector"]) == 2
    assert all(t.grad_fn is None and not t.requires_grad for t in outputs["target_projector"])
    assert all(p.grad is None for p in [*model.target_backbone.parameters(), *model.target_projector.parameters()])
    assert all(p.grad is not None for p in model.projector.parameters())
