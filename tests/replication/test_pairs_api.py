"""The controller's pair API on real agents: create, update, generations, delete, persistence, refusals."""

from __future__ import annotations

import grpc
import pytest

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc, replication_pb2, replication_pb2_grpc
from failback.identity import Role
from failback.serving import secure_channel
from tests.harness import Service, start_agent
from tests.replication.support import LAB, Lab, make_disk

SIZE = 1 << 20


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def test_a_target_pair_is_created_and_putting_it_again_changes_nothing(lab: Lab, work):
    pair = lab.target_pair("api-create", make_disk(work / "t.img", SIZE), SIZE)
    created = lab.put_target(pair)
    assert created.state == pairs_pb2.PAIR_STATE_RESYNCING
    assert created.pair.sender == lab.ps.name
    again = lab.put_target(pair)
    assert (again.pair, again.durable_seq) == (created.pair, 0)
    with lab.channel(lab.mt) as channel:
        listed = pairs_pb2_grpc.TargetPairsStub(channel).ListPairs(pairs_pb2.ListPairsRequest(), timeout=10)
    assert "api-create" in [p.pair.pair_id for p in listed.pairs]


def test_an_older_generation_is_refused_and_a_new_target_needs_a_new_generation(lab: Lab, work):
    target = make_disk(work / "t.img", SIZE)
    lab.put_target(lab.target_pair("api-gen", target, SIZE, generation=3))
    stale = rpc_error(lambda: lab.put_target(lab.target_pair("api-gen", target, SIZE, generation=2)))
    assert stale.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "stale" in stale.details()
    other = make_disk(work / "other.img", SIZE)
    moved = rpc_error(lambda: lab.put_target(lab.target_pair("api-gen", other, SIZE, generation=3)))
    assert moved.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "new generation" in moved.details()
    assert lab.put_target(lab.target_pair("api-gen", other, SIZE, generation=4)).pair.path == str(other)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pair_id", "Has Spaces", "pair_id"),
        ("generation", 0, "generation"),
        ("disk_size", 1000, "disk_size"),
        ("sender", "", "sender"),
        ("retention_dir", "relative/dir", "retention_dir"),
    ],
)
def test_a_bad_target_pair_is_an_invalid_argument_naming_the_field(lab: Lab, work, field, value, message):
    pair = lab.target_pair("api-bad", make_disk(work / "t.img", SIZE), SIZE)
    setattr(pair, field, value)
    error = rpc_error(lambda: lab.put_target(pair))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.details()


def test_a_target_larger_than_the_disk_is_refused_and_nothing_is_kept(lab: Lab, work):
    pair = lab.target_pair("api-small", make_disk(work / "t.img", SIZE), 2 * SIZE)
    error = rpc_error(lambda: lab.put_target(pair))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "at least as large" in error.details()
    missing = rpc_error(lambda: lab.target_status("api-small"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_deleting_a_pair_removes_it_and_its_journal(lab: Lab, work):
    lab.put_target(lab.target_pair("api-delete", make_disk(work / "t.img", SIZE), SIZE))
    journal = lab.directory / "retention" / "api-delete"
    assert journal.is_dir()
    with lab.channel(lab.mt) as channel:
        stub = pairs_pb2_grpc.TargetPairsStub(channel)
        stub.DeletePair(pairs_pb2.DeletePairRequest(pair_id="api-delete"), timeout=30)
        again = rpc_error(lambda: stub.DeletePair(pairs_pb2.DeletePairRequest(pair_id="api-delete"), timeout=30))
    assert again.code() == grpc.StatusCode.NOT_FOUND
    assert not journal.exists()


def test_pairs_survive_a_restart_of_the_agent(controller, lab: Lab, work):
    target = make_disk(work / "t.img", SIZE)
    agent = start_agent(controller, work, "mt-restart", Role.MASTER_TARGET, extra=LAB)
    try:
        pair = lab.target_pair("api-persist", target, SIZE, generation=2)
        with secure_channel(str(agent.address), controller.own_tls(), agent.identity) as channel:
            pairs_pb2_grpc.TargetPairsStub(channel).PutPair(pair, timeout=30)
        assert agent.stop() == 0
        agent.service = Service.start(agent.name, "agent", ["serve", "--config", str(agent.config)], work / "again")
        agent.service.wait_ready()
        with secure_channel(str(agent.address), controller.own_tls(), agent.identity) as channel:
            status = pairs_pb2_grpc.TargetPairsStub(channel).GetPairStatus(
                pairs_pb2.GetPairStatusRequest(pair_id="api-persist"), timeout=30
            )
        assert (status.pair.generation, status.pair.path) == (2, str(target))
        assert status.state == pairs_pb2.PAIR_STATE_RESYNCING
    finally:
        agent.stop()


def test_an_agent_refuses_target_paths_unless_its_configuration_allows_them(controller, lab: Lab, work):
    agent = start_agent(controller, work, "mt-strict", Role.MASTER_TARGET)
    try:
        pair = lab.target_pair("api-path", make_disk(work / "t.img", SIZE), SIZE)
        with secure_channel(str(agent.address), controller.own_tls(), agent.identity) as channel:
            error = rpc_error(lambda: pairs_pb2_grpc.TargetPairsStub(channel).PutPair(pair, timeout=30))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "disk_id" in error.details()
    finally:
        agent.stop()


def test_a_process_server_may_not_manage_pairs_and_the_controller_may_not_stream(lab: Lab, sender_tls):
    with secure_channel(str(lab.mt.address), sender_tls, lab.mt.identity) as channel:
        error = rpc_error(
            lambda: pairs_pb2_grpc.TargetPairsStub(channel).ListPairs(pairs_pb2.ListPairsRequest(), timeout=10)
        )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    with lab.channel(lab.mt) as channel:
        request = replication_pb2.DigestRequest(pair_id="x", generation=1)
        error = rpc_error(lambda: replication_pb2_grpc.ReplicationStub(channel).Digest(request, timeout=10))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_source_pair_is_created_listed_updated_and_deleted(lab: Lab, work):
    source = make_disk(work / "s.img", SIZE)
    pair = lab.source_pair("api-src", source, address="127.0.0.1:9")  # nobody listens: the pair keeps retrying
    status = lab.put_source(pair)
    assert status.pair.master_target_name == lab.mt.name
    pair.bandwidth_bytes_per_second = 1000
    assert lab.put_source(pair).pair.bandwidth_bytes_per_second == 1000
    status = lab.source_status("api-src")
    assert status.state == pairs_pb2.PAIR_STATE_DISCONNECTED
    pair.generation = 0
    error = rpc_error(lambda: lab.put_source(pair))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    with lab.channel(lab.ps) as channel:
        stub = pairs_pb2_grpc.SourcePairsStub(channel)
        stub.DeletePair(pairs_pb2.DeletePairRequest(pair_id="api-src"), timeout=30)
        listed = stub.ListPairs(pairs_pb2.ListPairsRequest(), timeout=10)
    assert "api-src" not in [p.pair.pair_id for p in listed.pairs]
