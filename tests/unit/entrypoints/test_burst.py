"""``accessflow worker --burst`` over the memory broker and the memory store: the whole
worker as bootstrap wires it, commands in, events out, at memory speed."""

from __future__ import annotations

from command_support import ADELE, ALEX, ISAIAH, KAYO, MEGAN, NESTOR, PATTI, sales_for
from runtime_support import MemoryWorld, burst, directory_connector

from accessflow.service.commands import create_command

USERS = [ADELE, ALEX, ISAIAH, KAYO, MEGAN, NESTOR, PATTI]


async def test_a_burst_run_delivers_every_request_and_publishes_its_events_in_order() -> None:
    world = MemoryWorld()
    commands = [create_command(user, sales_for(user), source="urn:test") for user in USERS]
    await world.submit(*commands)

    async with directory_connector() as connector:
        await burst(world, connector)

    states = world.states()
    assert set(states) == {command["subject"] for command in commands}
    for published in states.values():
        assert published[0] == "submitted"
        assert published[-1] == "delivered"
    sequences = [
        e["data"]["sequence"]
        for e in world.events()
        if e["type"] == "accessflow.assignmentRequest.stateChanged"
        and e["subject"] == commands[0]["subject"]
    ]
    assert sequences == sorted(sequences)
    assert world.uow.outbox_events() == []  # everything committed was published
    ends = {r.partition: r.offset + 1 for r in world.broker.records("commands")}
    assert world.committed() == ends  # and every command's offset committed
    assert world.dead_letters() == []
