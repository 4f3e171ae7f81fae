"""The final pick: re-fit the best few laws carefully and choose the one most likely to hold.

Search ranks thousands of laws on cheap fits; the pick looks again at the top few
(``candidates``, best first by search fitness) with training rows only:

0. with ``windows``, the *fit window* (:mod:`sld.corpus.window`): every law's folds are
   re-fitted once per share in ``windows``, on each fold's fit rows above that share of
   the lowest by scale (the bands are scored as they are, so the errors compare). The
   first (smallest) share is fitted with ``restarts``; every other share is screened with
   ``window_restarts``, each law's restart 0 starting from its fit at the first share
   (the optimum on fewer rows of the same law is mostly near it, and the cold restarts
   look elsewhere). The share whose best law has the lowest penalised point fitness
   wins, where a share above 0 must gain a margin over every row, and of the shares
   above 0 within that margin of the winner the smallest is kept
   (:mod:`sld.scoring._window`); a kept share other than the first is then re-fitted with
   ``restarts``, restart 0 from its screen, and every later step, and the held-out fit of
   the law picked, use it. A law that holds at scale but misses the smallest runs is no
   longer pulled toward them; where the smallest runs do follow the law, leaving them
   out costs fold error and share 0 stays;
1. every fold re-fitted with ``restarts`` restarts (one batched call): fold scores,
   selection error, extrapolation checks. With ``polish``, the fits of steps 0 and 1
   let each group's best restart run on alone where the batch reaches its iteration
   cap still descending (:func:`sld.fit.fit_many`; measured, not the default: README,
   "Speed"). With ``narrow``, every fit that compares laws (steps 0, 1, 2 and 6) runs
   each group's best ``narrow`` restarts on past a short run where the groups are large
   (:class:`sld.fit.Fidelity`; README, "Narrowing the restarts"); step 7's fit, the one
   handed on, runs every restart to the end;
2. ``bootstrap`` resamples: each fold's fit rows drawn with replacement within each group,
   all resamples of all folds as groups of one batched call per law; each resample gives
   a selection error (the fold bands are scored as they are);
3. each law's pessimistic error is the ``quantile`` of its bootstrap selection errors (a
   resample that cannot be fitted counts as infinite), and never below its point error,
   so a law that only fits this one draw of the rows loses to one that fits every draw.
   Where no law has a finite pessimistic error in the kept fit window (a window can leave
   a group only its top few rows, one per scale value, and a draw with replacement then
   misses one of them), that window gives no evidence on the draws: it is set aside and
   the pick starts again at step 0 with the other shares, saying so in its reason (the
   fold fits step 0 already made are kept, not fitted again: the pick is the one a pick
   given only the other shares makes);
4. the *leader* minimises :func:`sld.scoring.fitness` of that pessimistic error, among
   laws that pass the checks (among all, if none does). Ties go to the earlier candidate;
5. with ``parsimony`` (the default), the pick is the law with the fewest parameters among
   the *plausible* laws (ties: the lower fitness). With the leader's point error e and
   pessimistic error u, a law is plausible when it was resampled, has the leader's check
   outcome, and its own point and pessimistic errors e', u' satisfy::

       e' <= u          (its error lies within the leader's error bar)
       u' <= u * u / e  (and its bound within one leader's spread, in log, of the leader's)

   The bar says how large the leader's error may really be; a law whose error is
   already inside it cannot be told from the leader on these rows, and of laws that fit
   equally well the one with fewer free parameters has less room to have bent to the
   noise of the fold bands. This is the one-standard-error rule of cross-validation with
   the bootstrap quantile as the error bar. The second condition keeps a law whose fit
   the resamples do not find again (a low point error, a bound far above) from winning
   on its point error alone. Neither adds a threshold. The pick is ranked first, the rest
   by fitness. Without ``parsimony`` the pick is the leader;
6. with ``steady`` (the default) and at least two plausible laws, the pick is instead the
   plausible law whose extrapolation moves least as the folds add rows, its *drift*
   (:mod:`sld.scoring._steady`: each law fitted on every fold's fit rows and on every
   training row of the window, predicted beyond the training range along the validation
   scale, inputs only); equal drifts go to the step-5 order, and where no drift is
   finite step 5 stands. The folds cannot tell these laws apart by their errors; a law
   that describes the rows settles as rows come, one that bends to them swings, most of
   all past the rows. Chosen without a test label (``bench/selection_sweep.md``, "Steady
   extrapolation");
   with ``consensus`` (off by default: measured there) and at least three plausible
   laws, the law nearest their median extrapolation instead (:mod:`sld.scoring._consensus`).
   Steps 5 and 6 are :mod:`sld.scoring._plausible`;
7. the law chosen is fitted once more as it is handed on, on every training row of the
   window, exactly as the held-out path fits it (:mod:`sld.scoring._delivered`), and
   checked. Where that fit fails a check its fold fits passed, the law is demoted with
   that reason, any law the old bar skipped that could now lead is resampled, and steps
   4 to 7 run again; the reason names every law demoted so. The fit window stays: choosing
   it again with the demoted law moved no pick (``bench/RESULTS.md``, "The delivered fit
   checked").

Resampling is pruned. The pessimistic error is at least the point error (step 3), so a
law whose penalised point error is already above some law's penalised pessimistic error
cannot lead, and it is not resampled (its ``bound`` is None) unless it could still be the
pick. The law with the best point fitness is resampled first, alone; then, in one
batched call, every law whose point fitness is not above the best pessimistic fitness so
far. That settles the leader. With ``parsimony``, a third call resamples every skipped law
that could still be the pick: its point error within the leader's bar, and fewer
parameters than the leader (a skipped law carries a larger penalty than the leader, so
this is rare). The pick is the one resampling every law would make: each law's resamples
are a batched fit of its own, the same whichever laws share the call.

*Charged parameters.* With ``frozen`` (the default), wherever the pick pays for parameters
(penalised fitness, step 5 and its resampling round) a law's frozen terms count too
(:attr:`sld.law.Law.frozen_terms`, as ``93/log(N)``): no fit sets them, the search chose them on
the fold bands the pick judges by (``bench/selection_sweep.md``, "Frozen terms charged as parameters").

Deterministic for a seed: resamples draw from ``numpy.random.default_rng([seed, b])``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sld.corpus import Task
from sld.law import Law

from ._delivered import delivered_checks
from ._plausible import choose_among, plausible_laws
from ._reports import PickReport, PickSettingsDict, ScoreReport, pick_entry, pick_notes
from ._resample import bootstrap_errors, pessimistic, resampled_folds
from ._selection import fitness, selection_scores
from ._window import WindowScore, best_law, choose_window, window_reason


def final_pick(
    candidates: Sequence[tuple[int, Law]],
    task: Task,
    *,
    seed: int = 0,
    restarts: int = 32,
    bootstrap: int = 8,
    bootstrap_restarts: int = 8,
    quantile: float = 0.8,
    node_weight: float = 0.01,
    param_weight: float = 0.0,
    parsimony: bool = True,
    consensus: bool = False,
    steady: bool = True,
    monotone: Mapping[str, int] | None = None,
    known: Mapping[int, ScoreReport] | None = None,
    windows: Sequence[float] = (0.0,),
    window_restarts: int = 8,
    polish: int = 0,
    narrow: int = 0,
    frozen: bool = True,
    _fitted: dict[tuple, list[ScoreReport]] | None = None,
) -> PickReport:
    """Re-fit ``candidates`` (id, law) on every fold, bootstrap them, and pick one (see module).

    ``known``: candidate id → the report :func:`selection_scores` gives that law at this
    ``seed`` and ``restarts`` on ``task`` as given (the search's confirmations are such
    reports). Those laws are not re-fitted on the folds at that window; each law's fit is
    its own, so the pick is the same. ``windows``: the fit-window shares to choose among
    (step 0); ``(0.0,)`` fits on every row. ``window_restarts``: restarts of the screen
    of every share after the first (step 0). ``polish``: iterations each group's best
    restart runs on past the cap in every fold fit of steps 0 and 1 (:func:`sld.fit.fit_many`;
    ``known`` reports must have been fitted with it). ``narrow``: each group's best restarts
    kept after a short run, on large groups, in every fit that compares laws (steps 0 to 6;
    :class:`sld.fit.Fidelity`; ``known`` reports must have been fitted with it).
    ``_fitted`` (internal): the fold fits of step 0 already made, by how they were made, so
    that a pick started again with a window set aside (step 3) does not fit them twice; a
    fit is deterministic in those terms, so the pick is the same. ``frozen``: module
    docstring, *Charged parameters*.
    """
    settings = PickSettingsDict(
        restarts=restarts,
        bootstrap=bootstrap,
        quantile=quantile,
        node_weight=node_weight,
        param_weight=param_weight,
        parsimony=parsimony,
        consensus=consensus,
        steady=steady,
        window_restarts=window_restarts,
        polish=polish,
        narrow=narrow,
        frozen=frozen,
    )
    if not candidates:
        return PickReport(chosen=None, entries=[], reason="no law was scored", **settings)
    laws = [law for _, law in candidates]
    given_task = task

    # step 0's fold fits by how they were made: (share, restarts, the key of the fits that
    # gave restart 0 its start, or None for cold starts); shared with a pick started again
    fitted = {} if _fitted is None else _fitted

    def scores_at(share: float, *, fits: int = restarts, warm: tuple | None = None) -> tuple:
        """Fit every candidate's folds at ``share`` (once per key); returns the key."""
        key = (share, fits, warm)
        if key not in fitted:
            given = (known or {}) if share == task.window and fits == restarts else {}
            todo = [i for i, (cid, _) in enumerate(candidates) if cid not in given]
            starts = None if warm is None else [fitted[warm][i].fit.parameters for i in todo]
            fresh = iter(
                selection_scores(
                    [laws[i] for i in todo],
                    task.windowed(share),
                    seed=seed,
                    restarts=fits,
                    polish=polish,
                    narrow=narrow,
                    monotone=monotone,
                    starts=starts,
                )
            )
            fitted[key] = [given[cid] if cid in given else next(fresh) for cid, _ in candidates]
        return key

    def charged(law: Law) -> int:
        return len(law.parameters) + (law.frozen_terms if frozen else 0)

    def penalised(law: Law, report: ScoreReport, error: float) -> float:
        return fitness(
            error,
            complexity=law.complexity,
            n_params=charged(law),
            node_weight=node_weight,
            param_weight=param_weight,
            demoted=report.checks is not None and not report.checks.passed,
        )

    def summary(share: float, at: Sequence[ScoreReport]) -> WindowScore:
        return best_law(
            [penalised(law, r, r.error) for law, r in zip(laws, at, strict=True)],
            share=share,
            ids=[cid for cid, _ in candidates],
        )

    shares = sorted(set(windows)) if task.validation_scale is not None else [task.window]
    first = scores_at(shares[0])
    by_share = {shares[0]: first}
    for share in shares[1:]:  # screened: few restarts, restart 0 from the first share's fit
        by_share[share] = scores_at(share, fits=window_restarts, warm=first)
    tried = [summary(share, fitted[key]) for share, key in by_share.items()]
    window = choose_window(tried)
    kept = first
    if window != shares[0]:  # the kept window, fitted as fully as the first share was
        kept = scores_at(window, warm=by_share[window])
        tried = [summary(window, fitted[kept]) if w.share == window else w for w in tried]
    reports = list(fitted[kept])  # step 7 may demote a law in this copy, never in the memo
    task = task.windowed(window)
    tried_shown = tried if len(tried) > 1 else []
    folds = task.folds()
    points = [penalised(law, r, r.error) for law, r in zip(laws, reports, strict=True)]
    resampled: dict[int, tuple[float, list[float], float]] = {}  # i → bound, errors, fitness
    if bootstrap > 0:
        rows = resampled_folds(folds, samples=bootstrap, seed=seed)
        order = sorted(range(len(laws)), key=lambda i: (points[i], i))
        bar = math.inf  # the best penalised pessimistic error so far

        def resample(batch: list[int]) -> None:
            nonlocal bar
            if not batch:
                return
            drawn = bootstrap_errors(
                [laws[i] for i in batch],
                folds,
                rows,
                samples=bootstrap,
                restarts=bootstrap_restarts,
                seed=seed,
                narrow=narrow,
            )
            for i, errors_i in zip(batch, drawn, strict=True):
                bound_i = pessimistic(errors_i, point=reports[i].error, quantile=quantile)
                penalty = penalised(laws[i], reports[i], bound_i)
                resampled[i] = (bound_i, errors_i, penalty)
                bar = min(bar, penalty)

        # Round 1: the best point fitness alone sets the bar. Round 2: every law still under
        # it, in one batched call (one call per law measured slower on a 2-core CPU).
        for laws_in_round in (order[:1], order[1:]):
            resample([i for i in laws_in_round if math.isfinite(points[i]) and points[i] <= bar])
        if parsimony and resampled:
            # Round 3: the leader is now known; a skipped law could still be plausible if its
            # point error is inside the leader's bar, and the pick if it has fewer parameters
            lead = min(resampled, key=lambda i: (resampled[i][2], i))
            resample(
                [
                    i
                    for i in order
                    if i not in resampled
                    and math.isfinite(points[i])
                    and reports[i].error <= resampled[lead][0]
                    and charged(laws[i]) < charged(laws[lead])
                ]
            )
    demoted: list[int] = []  # candidate ids whose delivered fit failed a check (step 7)
    while True:
        entries = [
            pick_entry(
                cid, law, report, point=points[i], drawn=resampled.get(i), resampling=bootstrap > 0
            )
            for i, ((cid, law), report) in enumerate(zip(candidates, reports, strict=True))
        ]
        # resampled laws first (by fitness); then the rest by point fitness, a lower bound on theirs
        order = sorted(
            range(len(entries)), key=lambda i: (entries[i].bound is None, entries[i].fitness, i)
        )
        top = entries[order[0]]
        others = tuple(share for share in shares if share != window)
        if not math.isfinite(top.fitness) and resampled and others:
            again = final_pick(
                candidates,
                given_task,
                seed=seed,
                bootstrap_restarts=bootstrap_restarts,
                monotone=monotone,
                known=known,
                windows=others,
                _fitted=fitted,
                **settings,
            )
            aside = (
                f"; the {window:.0%} fit window was set aside: no law could be fitted on "
                f"enough resamples of its fold rows"
            )
            return again.model_copy(update={"reason": again.reason + aside})
        if not math.isfinite(top.fitness):
            ranked = [entries[i].model_copy(update={"rank": r + 1}) for r, i in enumerate(order)]
            return PickReport(
                chosen=None,
                entries=ranked,
                reason="no candidate could be re-fitted",
                window=window,
                windows=tried_shown,
                **settings,
            )
        why = (
            f"lowest penalised {quantile:.0%}-quantile error over {bootstrap} resamples "
            f"of every fold ({top.bound:.3g}; point {top.error:.3g})"
            if bootstrap > 0 and top.bound is not None
            else f"lowest penalised selection error ({top.error:.3g})"
        )
        plausible = plausible_laws(entries, order) if parsimony and bootstrap > 0 else [order[0]]
        plausible.sort(key=lambda i: charged(laws[i]))  # stable: ties keep their order
        step6 = choose_among(
            [laws[i] for i in plausible],
            task,
            consensus=consensus,
            steady=steady,
            seed=seed,
            restarts=restarts,
            narrow=narrow,
        )
        chosen = plausible[step6.index]
        fold_checks = reports[chosen].checks
        if fold_checks is None or not fold_checks.passed:
            break
        delivered = delivered_checks(
            laws[chosen], task, seed=seed, restarts=restarts, polish=polish, monotone=monotone
        )
        if delivered.passed:
            break
        # step 7: judged with the fit it would be handed on with, the law fails a check
        demoted.append(candidates[chosen][0])
        reports[chosen] = reports[chosen].model_copy(update={"checks": delivered})
        points[chosen] = penalised(laws[chosen], reports[chosen], reports[chosen].error)
        if chosen in resampled:
            bound_c, errors_c, _ = resampled[chosen]
            resampled[chosen] = (
                bound_c,
                errors_c,
                penalised(laws[chosen], reports[chosen], bound_c),
            )
        if resampled:  # a law skipped under the old bar may now lead: resample it too
            bar = min(r[2] for r in resampled.values())
            resample(
                [
                    i
                    for i in sorted(range(len(laws)), key=lambda i: (points[i], i))
                    if i not in resampled and math.isfinite(points[i]) and points[i] <= bar
                ]
            )
    near = ""
    if step6.index > 0:
        near = (
            f"{step6.says} of the {len(plausible)} laws whose selection error "
            f"is within the leader's {quantile:.0%}-quantile bound ({top.bound:.3g}, "
            f"{top.n_params} parameters{top.frozen_suffix(frozen)}; this law's error "
            f"{entries[chosen].error:.3g}, {entries[chosen].n_params} parameters"
            f"{entries[chosen].frozen_suffix(frozen)}; the fewest-parameter law's {step6.noun} "
            f"{step6.values[0]:.3g} std)"
        )
    if near:
        why = near
        order.remove(chosen)
        order.insert(0, chosen)
    elif chosen != order[0]:
        best = entries[chosen]
        why = (
            f"fewest parameters ({best.n_params}{best.frozen_suffix(frozen)}) among the "
            f"{len(plausible)} laws whose selection error is within the leader's "
            f"{quantile:.0%}-quantile bound ({top.bound:.3g}, {top.n_params} parameters"
            f"{top.frozen_suffix(frozen)}; this law's error {best.error:.3g}, bound {best.bound:.3g})"
        )
        order.remove(chosen)
        order.insert(0, chosen)
    ranked = [entries[i].model_copy(update={"rank": r + 1}) for r, i in enumerate(order)]
    best = ranked[0]
    skipped = len(entries) - len(resampled) if bootstrap > 0 else 0
    why += pick_notes(ranked, skipped=skipped, demoted=demoted) + window_reason(tried, window)
    return PickReport(
        chosen=best.id,
        entries=ranked,
        reason=why,
        window=window,
        windows=tried_shown,
        **settings,
    )
