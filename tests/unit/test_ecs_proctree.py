"""Which processes make a container, which are orphans, which zombies the supervisor may reap
(ecs/proctree.py, issue 12 item 8), over hand-made process tables."""

from __future__ import annotations

from albfargate.ecs.proctree import Proc, adopted, container_tree, descendants, orphans, reapable

SD = "/app/.albfargate"
SUP = 100  # the supervisor, session 100
T1, T2 = "a" * 32, "b" * 32


def table(*procs: Proc) -> dict[int, Proc]:
    return {p.pid: p for p in procs}


def task_proc(
    pid: int, ppid: int, *, task: str = T1, container: str = "app", pgrp: int = 0, **kw: object
) -> Proc:
    return Proc(
        pid=pid,
        ppid=ppid,
        pgrp=pgrp or pid,
        session=pgrp or pid,
        start=pid * 10,
        state_dir=SD,
        task_id=task,
        container=container,
        **kw,  # type: ignore[arg-type]
    )


SUPERVISOR = Proc(pid=SUP, ppid=1, pgrp=SUP, session=SUP, start=1)
LEADER = task_proc(200, SUP)  # sh -c '...': its own session 200
SETSID = task_proc(300, SUP)  # `setsid sleep 1000 &`: its parent (the shell) exited, reparented to us
SCRUBBED = Proc(pid=301, ppid=300, pgrp=300, session=300, start=3010)  # env -i below the setsid child
OTHER_TASK = task_proc(400, SUP, task=T2)
DB = Proc(pid=500, ppid=SUP, pgrp=500, session=500, start=5000, state_dir=SD)  # a database server
DB_CHILD = Proc(pid=501, ppid=500, pgrp=500, session=500, start=5010, state_dir=SD)
ALIEN = Proc(pid=600, ppid=1, pgrp=600, session=600, start=6000, state_dir="/elsewhere/.albfargate")


def test_a_container_is_its_leader_what_carries_its_markers_and_everything_below() -> None:
    procs = table(SUPERVISOR, LEADER, SETSID, SCRUBBED, OTHER_TASK, DB, DB_CHILD, ALIEN)
    assert container_tree(procs, SD, T1, "app", leaders=(200,)) == {200, 300, 301}
    assert container_tree(procs, SD, T1, "sidecar") == set()
    assert container_tree(procs, SD, T1) == {200, 300, 301}  # every container of the task
    assert container_tree(procs, SD, T2) == {400}
    assert container_tree(procs, "/elsewhere/.albfargate", T1) == set()


def test_zombies_are_not_part_of_a_tree() -> None:
    dead = task_proc(300, SUP, zombie=True)
    assert container_tree(table(SUPERVISOR, LEADER, dead), SD, T1) == {200}


def test_descendants_survive_cycles_and_unknown_roots() -> None:
    a = Proc(pid=2, ppid=3, pgrp=2, session=2, start=0)
    b = Proc(pid=3, ppid=2, pgrp=2, session=2, start=0)
    assert descendants(table(a, b), [2, 99]) == {2, 3}


def test_orphans_are_marked_processes_of_no_running_task_nor_server() -> None:
    procs = table(SUPERVISOR, LEADER, SETSID, SCRUBBED, OTHER_TASK, DB, DB_CHILD, ALIEN)
    # T1 is running, T2 has stopped (its process escaped), the database server is the supervisor's
    found = orphans(procs, SD, live_tasks={T1}, own_groups={500})
    assert [p.pid for p in found] == [400]
    # after a crash nothing runs: everything with the marker is an orphan (scrubbed 301 carries none)
    assert [p.pid for p in orphans(procs, SD)] == [200, 300, 400, 500, 501]
    assert [p.pid for p in orphans(procs, SD, exclude={200, 300})] == [400, 500, 501]


def test_a_hand_planted_process_with_the_marker_is_an_orphan() -> None:
    planted = Proc(pid=700, ppid=1, pgrp=700, session=700, start=7000, state_dir=SD)
    assert [p.pid for p in orphans(table(SUPERVISOR, LEADER, planted), SD, live_tasks={T1})] == [700]


def test_only_zombies_outside_the_supervisors_session_that_it_did_not_start_are_reaped() -> None:
    dead_orphan = task_proc(300, SUP, zombie=True)  # a setsid child, killed with its container
    dead_leader = task_proc(200, SUP, zombie=True)  # the event loop waits for it
    dead_check = Proc(pid=250, ppid=SUP, pgrp=250, session=250, start=2500, zombie=True)  # health check
    worker = Proc(pid=260, ppid=SUP, pgrp=SUP, session=SUP, start=2600, zombie=True)  # an ALB worker
    not_ours = Proc(pid=270, ppid=1, pgrp=270, session=270, start=2700, zombie=True)
    alive = task_proc(280, SUP)
    procs = table(SUPERVISOR, dead_orphan, dead_leader, dead_check, worker, not_ours, alive)
    assert reapable(procs, SUP, started={200, 250}) == [300]
    assert reapable(procs, 999, started=set()) == []  # the supervisor itself is not in the table


def test_adopted_children_are_found_whatever_their_environment() -> None:
    scrubbed = Proc(pid=310, ppid=SUP, pgrp=310, session=310, start=3100)  # `setsid env -i ...`, orphaned
    below = Proc(pid=311, ppid=310, pgrp=310, session=310, start=3110)
    worker = Proc(pid=260, ppid=SUP, pgrp=SUP, session=SUP, start=2600)  # an ALB worker: same session
    procs = table(SUPERVISOR, LEADER, scrubbed, below, worker, DB)
    assert adopted(procs, SUP, started={200, 500}) == {310, 311}
    assert adopted(procs, 999, started=set()) == set()
