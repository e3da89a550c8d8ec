"""The run report through HTTP: JSON, the page, the self-contained download; and C2ST on the run and
Generate pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from core.db.tables import Checkpoint, Event, Run
from core.settings import Settings
from tests.app.factories import add_grid, make_dataset, make_run


def judged(epoch: int, c2st: float, *, copying: bool = False) -> dict:
    return {
        "c2st": c2st,
        "c2st_std": 0.04,
        "c2st_ci_low": c2st - 0.03,
        "c2st_ci_high": min(1.0, c2st + 0.03),
        "c2st_k": 8,
        "near_copy_fraction": 0.5 if copying else 0.0,
        "spread_ratio": 0.8,
        "copying": copying,
        "score": 0.7,
        "precision": 0.8,
        "epoch": epoch,
    }


def trained_run(session: Session, settings: Settings) -> tuple[Run, list[Checkpoint]]:
    run = make_run(session, make_dataset(session), name="dream", status="completed", step=40, epoch=4)
    values = [(1, 0.99, False), (2, 0.91, False), (3, 0.84, False), (4, 0.62, True)]
    checkpoints = [
        Checkpoint(run_id=run.id, epoch=e, step=e * 10, path="unused", quality=judged(e, c, copying=copy))
        for e, c, copy in values
    ]
    session.add_all(checkpoints)
    session.add_all(
        [
            Event(run_id=run.id, step=12, kind="d_saturation", severity="warning",
                  message="Discriminator saturation started: over the last 30 iterations ...",
                  evidence={"state": "started", "rules": ["g_starved"]}),
            Event(run_id=run.id, step=18, kind="d_saturation", severity="info",
                  message="Discriminator saturation cleared", evidence={"state": "cleared"}),
        ]
    )  # fmt: skip
    session.commit()
    run.best_checkpoint_id = checkpoints[2].id  # epoch 3: the lowest C2ST that is not copying
    session.commit()
    for epoch in (1, 2, 3, 4):
        add_grid(session, settings, run, epoch, color=epoch * 40)
    Image.new("RGB", (36, 36), (10, 20, 30)).save(settings.run_dir(run.id) / "real.png")
    return run, checkpoints


def test_report_json_has_the_curve_best_episodes_and_a_verdict(
    client: TestClient, session: Session, settings: Settings
) -> None:
    run, checkpoints = trained_run(session, settings)
    report = client.get(f"/api/runs/{run.id}/report").json()
    assert [p["c2st"] for p in report["c2st_curve"]] == [0.99, 0.91, 0.84, 0.62]
    assert [p["copying"] for p in report["c2st_curve"]] == [False, False, False, True]
    assert report["best"]["checkpoint_id"] == checkpoints[2].id and report["best"]["grid_epoch"] == 3
    (episode,) = report["episodes"]
    assert (episode["kind"], episode["start_step"], episode["end_step"]) == ("d_saturation", 12, 18)
    assert "lr_d" in episode["fix"]
    assert report["verdict"].startswith("Samples are told from real ones most of the time (C2ST 0.84)")
    assert report["trained"]["steps"] == 40 and report["run"]["config"]["arch"] == "dcgan"


def test_report_of_an_unjudged_run_says_so_and_unknown_runs_are_404(
    client: TestClient, session: Session
) -> None:
    run = make_run(session, make_dataset(session))
    report = client.get(f"/api/runs/{run.id}/report").json()
    assert report["c2st_curve"] == [] and report["best"] is None and "Not judged yet" in report["verdict"]
    missing = client.get("/api/runs/999999/report")
    assert missing.status_code == 404 and "999999" in missing.text


def test_report_page_downloads_as_one_self_contained_file(
    client: TestClient, session: Session, settings: Settings
) -> None:
    run, _ = trained_run(session, settings)
    page = client.get(f"/runs/{run.id}/report")
    assert page.status_code == 200 and 'id="c2st-chart" style="margin:0" data-points="4"' in page.text
    assert "C2ST 0.84" in page.text and "Suggested fix: try a lower lr_d" in page.text
    download = client.get(f"/runs/{run.id}/report", params={"download": "1"})
    assert (
        download.headers["content-disposition"] == f'attachment; filename="pokegan-run-{run.id}-report.html"'
    )
    html = download.text
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 2  # best grid and real images
    assert not re.search(r'(src|href)="/', html)  # nothing fetched from the server once saved
    assert "<script" not in html and "<style>" in html


def test_run_page_and_generate_picker_lead_with_c2st(
    client: TestClient, session: Session, settings: Settings
) -> None:
    run, checkpoints = trained_run(session, settings)
    page = client.get(f"/runs/{run.id}").text
    assert 'id="c2st-chart"' in page and f'href="/runs/{run.id}/report"' in page
    assert "★ Best checkpoint: epoch 3 · step 30 · C2ST 0.840" in page
    assert re.search(r'<td class="num mono c2st"><strong>0\.620</strong>', page)
    assert "50% copying" in page
    picker = client.get("/generate/checkpoints", params={"run_id": run.id}).text
    assert re.search(
        rf'<option value="{checkpoints[2].id}"[^>]*>epoch 3 · step 30 · best · C2ST 0\.840</option>', picker
    )
    assert "epoch 4 · step 40 · C2ST 0.620 · copying" in picker
