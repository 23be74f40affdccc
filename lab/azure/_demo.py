"""The demo estate: what a vault looks like days after a VMware site was failed over to Azure.

A classic configuration server with two process servers (one in Azure for failback) and two master targets, an
appliance-based (modernized) fabric, six protected items in every state failback meets, a 3-tier recovery plan and
a few past jobs. Tests may change any of it before starting the endpoint.
"""

from __future__ import annotations

import datetime

from lab.azure._estate import (
    T0,
    AzureVm,
    Datastore,
    Disk,
    Estate,
    Fabric,
    HealthIssue,
    Item,
    Job,
    MasterTarget,
    Plan,
    PlanGroup,
    Policy,
    ProcessServer,
    RecoveryPoint,
    RetentionVolume,
    RunAsAccount,
)

__all__ = ["demo_estate"]


def _rps(*specs: tuple[int, str]) -> list[RecoveryPoint]:
    """Recovery points ``minutes`` after T0, named after their time so names stay unique and readable."""
    return [
        RecoveryPoint(name=f"rp-{minutes:04d}", time=T0 + datetime.timedelta(minutes=minutes), type=kind)
        for minutes, kind in specs
    ]


def demo_estate() -> Estate:
    """A small failed-over estate: a classic VMware fabric and a modernized one, six items, one 3-tier plan."""
    sub = "3f2e1d0c-aaaa-4bbb-8ccc-0123456789ab"
    cs = "config-server-01"
    mt_win = MasterTarget(
        id="7c2a1f06-5d7e-4bb1-9f5e-1d1d0f9b1a01",
        name="cs-01",
        ip_address="10.10.1.10",
        os_type="Windows",
        retention_volumes=[
            RetentionVolume("E:\\", 536_870_912_000, 402_653_184_000),
            RetentionVolume("F:\\", 268_435_456_000, 21_474_836_480, threshold_percent=90),
        ],
        datastores=[
            Datastore("datastore-ssd-01", "5a4b3c2d-0001-4e5f-8a9b-000000000001", "2047.75", "1320.5"),
            Datastore("nfs-archive", "5a4b3c2d-0002-4e5f-8a9b-000000000002", "8191.0", "512.0", type="nfs"),
        ],
    )
    mt_lin = MasterTarget(
        id="8d3b2a17-6e8f-4cc2-8a6f-2e2e1a0c2b02",
        name="mt-linux-01",
        ip_address="10.10.1.21",
        os_type="Linux",
        retention_volumes=[RetentionVolume("/mnt/retention", 1_099_511_627_776, 879_609_302_220)],
        datastores=[Datastore("datastore-ssd-01", "5a4b3c2d-0001-4e5f-8a9b-000000000001", "2047.75", "1320.5")],
        health_errors=[
            HealthIssue(
                code="78052",
                message="The master target has 58 of 60 SCSI disks attached.",
                possible_causes="Many protected disks are replicating to this master target.",
                recommended_action="Add another master target or spread the failback across master targets.",
            )
        ],
    )
    classic = Fabric(
        name="4c5a0ab0d1a2f6e1c8b7d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2",
        friendly_name=cs,
        host_name="cs-01.corp.example",
        ip_address="10.10.1.10",
        process_servers=[
            ProcessServer(id="7c2a1f06-5d7e-4bb1-9f5e-1d1d0f9b1a01", friendly_name="cs-01", ip_address="10.10.1.10"),
            ProcessServer(
                id="9e4c3b28-7f90-4dd3-9b70-3f3f2b1d3c03",
                friendly_name="ps-azure-01",
                ip_address="10.200.0.4",
                host_id="9e4c3b28-7f90-4dd3-9b70-3f3f2b1d3c03",
                machine_count="6",
                replication_pair_count="11",
            ),
        ],
        master_targets=[mt_win, mt_lin],
        run_as_accounts=[
            RunAsAccount("1", "vcenter-readonly"),
            RunAsAccount("2", "linux-root"),
            RunAsAccount("3", "windows-admin"),
        ],
        containers=["cloud_6d224fc6-f326-5d35-96de-fbf51efb3179"],
    )
    rcm = Fabric(
        name="vmware-appliance-fabric",
        friendly_name="appliance-01",
        kind="InMageRcm",
        containers=["replication-container-rcm"],
    )
    c1, c2 = classic.containers[0], rcm.containers[0]
    disks = [
        Disk("6000C29a-1b2c-3d4e-5f60-718293a4b5c6", "[datastore-ssd-01] web01/web01.vmdk", 64 * 2**30),
        Disk("6000C29b-2c3d-4e5f-6071-8293a4b5c6d7", "[datastore-ssd-01] web01/web01_1.vmdk", 128 * 2**30),
    ]
    items = [
        Item(
            name="a1f0e7c4-0001-4a6b-9c1d-100000000001",
            fabric=classic.name,
            container=c1,
            friendly_name="web01",
            provider="InMageAzureV2",
            policy="v2a-24h",
            ip_address="10.10.5.11",
            disks=disks,
            azure_vm="web01",
            process_server_id=classic.process_servers[1].id,
            recovery_points=_rps((0, "CrashConsistent"), (5, "ApplicationConsistent"), (10, "CrashConsistent")),
            failover_recovery_point="rp-0010",
        ),
        Item(
            name="a1f0e7c4-0002-4a6b-9c1d-100000000002",
            fabric=classic.name,
            container=c1,
            friendly_name="app01",
            provider="InMageAzureV2",
            policy="v2a-24h",
            os_type="Linux",
            ip_address="10.10.5.12",
            disks=[Disk("6000C29c-3d4e-5f60-7182-93a4b5c6d7e8", "[datastore-ssd-01] app01/app01.vmdk", 32 * 2**30)],
            azure_vm="app01",
            process_server_id=classic.process_servers[1].id,
            recovery_points=_rps((0, "ApplicationConsistent"), (15, "CrashConsistent")),
        ),
        Item(
            name="a1f0e7c4-0003-4a6b-9c1d-100000000003",
            fabric=classic.name,
            container=c1,
            friendly_name="db01",
            provider="InMage",
            policy="failback-24h",
            protection_state="Protected",
            protection_stage="Differential Sync",
            rpo_seconds=37,
            ip_address="10.10.5.13",
            disks=[Disk("6000C29d-4e5f-6071-8293-a4b5c6d7e8f9", "[datastore-ssd-01] db01/db01.vmdk", 256 * 2**30)],
            azure_vm="db01",
            process_server_id=classic.process_servers[1].id,
            master_target_id=mt_win.id,
            datastore_name="datastore-ssd-01",
            retention_drive="E:\\",
            run_as_account_id="3",
            recovery_points=_rps((20, "ApplicationConsistent"), (25, "CrashConsistent"), (30, "CrashConsistent")),
        ),
        Item(
            name="b2e1d8f5-0004-4b7c-8d2e-200000000004",
            fabric=classic.name,
            container=c1,
            friendly_name="file01",
            provider="InMageAzureV2",
            policy="v2a-24h",
            physical=True,
            ip_address="10.10.6.40",
            disks=[Disk("disk0", "\\\\.\\PHYSICALDRIVE0", 500 * 2**30)],
            azure_vm="file01",
            process_server_id=classic.process_servers[1].id,
            replication_health="Warning",
            health_errors=[
                HealthIssue(
                    code="78144",
                    message="No app-consistent recovery point in the last 4 hours.",
                    recommended_action="Check the VSS writers on the source server.",
                )
            ],
            recovery_points=_rps((3, "CrashConsistent")),
        ),
        Item(
            name="c3f2e9a6-0005-4c8d-9e3f-300000000005",
            fabric=rcm.name,
            container=c2,
            friendly_name="crm01",
            provider="InMageRcm",
            policy="rcm-24h",
            process_server_id="d4e5f6a7-0001-4e8f-9a0b-appliance001",
            run_as_account_id="vmware-site/runasaccounts/linux-root",
            firmware_type="UEFI",
            rpo_seconds=60,
            ip_address="10.10.7.50",
            azure_vm="crm01",
            recovery_points=_rps((40, "CrashConsistent")),
        ),
        Item(
            name="c3f2e9a6-0006-4c8d-9e3f-300000000006",
            fabric=rcm.name,
            container=c2,
            friendly_name="erp01",
            provider="InMageRcmFailback",
            process_server_id="e5f6a7b8-0002-4f90-8b1c-reprotectag1",
            policy="rcm-failback",
            protection_state="Protected",
            ip_address="10.10.7.51",
            azure_vm="erp01",
            datastore_name="datastore-ssd-01",
            recovery_points=_rps((45, "ApplicationConsistent"), (50, "CrashConsistent")),
        ),
    ]
    vms = [
        AzureVm("rg-dr", item.friendly_name, vm_id=f"0f0e0d0c-0b0a-4009-8008-{i:012d}", computer_name=item.name[:15])
        for i, item in enumerate(items, start=1)
    ]
    plans = [
        Plan(
            name="rp-3tier",
            friendly_name="3-tier application",
            primary_fabric=classic.name,
            groups=[
                PlanGroup("Shutdown"),
                PlanGroup("Failover"),
                PlanGroup("Boot", [items[2].name]),
                PlanGroup("Boot", [items[1].name]),
                PlanGroup("Boot", [items[0].name]),
            ],
            providers=["InMageAzureV2", "InMage"],
        )
    ]
    jobs = [
        Job(
            name="5e0a6b1c-1111-4d2e-8f3a-000000000001",
            scenario="UnplannedFailover",
            friendly_name="Unplanned failover",
            state="Succeeded",
            target_object_id=items[0].name,
            target_object_name="web01",
            tasks=[("UnplannedFailoverPreflightTask", "Succeeded"), ("StartVmTask", "Succeeded")],
        ),
        Job(
            name="5e0a6b1c-2222-4d2e-8f3a-000000000002",
            scenario="Commit",
            friendly_name="Commit",
            state="Succeeded",
            target_object_id=items[0].name,
            target_object_name="web01",
            start_time=T0 + datetime.timedelta(minutes=30),
            end_time=T0 + datetime.timedelta(minutes=31),
        ),
        Job(
            name="5e0a6b1c-3333-4d2e-8f3a-000000000003",
            scenario="Reprotect",
            friendly_name="Reprotect",
            state="Failed",
            target_object_id=items[3].name,
            target_object_name="file01",
            start_time=T0 + datetime.timedelta(minutes=40),
            end_time=T0 + datetime.timedelta(minutes=55),
            errors=[
                HealthIssue(
                    code="95117",
                    message="The master target cannot reach the selected datastore.",
                    level="Error",
                    possible_causes="The ESXi host of the master target does not see the datastore.",
                    recommended_action="Choose a datastore the master target's host can access.",
                )
            ],
        ),
    ]
    return Estate(
        subscription_id=sub,
        resource_group="rg-asr",
        vault="vault-failback",
        fabrics=[classic, rcm],
        policies=[
            Policy("v2a-24h", "24-hour-retention-policy"),
            Policy("failback-24h", "24-hour-retention-policy-failback"),
            Policy("rcm-24h", "rcm-24h"),
            Policy("rcm-failback", "rcm-failback"),
        ],
        items=items,
        plans=plans,
        jobs=jobs,
        vms=vms,
    )
