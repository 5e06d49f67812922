/**
 * ndis-pool: a WebAssembly slab pool allocator that mirrors the Windows NDIS buffer-pool API.
 *
 * The NDIS functions exported here act on {@link defaultRuntime}, which is ready when this
 * module's import resolves. Each is also a method of every {@link NdisRuntime}.
 */
import { createRuntime, type NdisRuntime } from './runtime.js';

export { NdisRuntime, createRuntime, createRuntimeSync, attachRuntime, NDIS_FUNCTIONS } from './runtime.js';
export type { SharedRuntimeDescriptor } from './shared.js';
export type { RuntimeOptions, PoolmonRow, PoolStats, WasmSource, MemoryReport, PoolReport } from './core.js';
export { SlabPool, Lease, type SlabPoolOptions } from './pool.js';
export type { RecordType, FieldAccessor, FieldSpec, FieldType } from './record.js';
export { DescriptorRing, RING_DESCRIPTOR, RING_HEADER, RING_MAX_CAPACITY, type RingOptions, type RingStats } from './ring.js';
export { formatPoolmon } from './poolmon.js';
export {
  NdisBugCheck, BUGCODE_BAD_POOL_CALLER, BUGCODE_DRIVER_VERIFIER_DETECTED_VIOLATION, BUGCODE_NDIS_DRIVER,
  RULE_P1, NDIS_TIMED_DATA_SEND, NDIS_TIMED_DATA_HANG, type RuleId,
} from './errors.js';
export * from './ndis/constants.js';
export type { NDIS_PROTOCOL_DRIVER_CHARACTERISTICS, ProtocolHandler } from './ndis/handles.js';
export {
  Adapter, type AdapterOptions, type Handler, type NDIS_MINIPORT_DRIVER_CHARACTERISTICS, type NDIS_FILTER_DRIVER_CHARACTERISTICS,
  type NDIS_MINIPORT_INIT_PARAMETERS, type NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, type NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
  type NDIS_BIND_PARAMETERS, type NDIS_OPEN_PARAMETERS, type NDIS_FILTER_ATTACH_PARAMETERS, type NDIS_FILTER_ATTRIBUTES,
  NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS, NDIS_OBJECT_TYPE_BIND_PARAMETERS, NDIS_OBJECT_TYPE_OPEN_PARAMETERS,
  NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS, NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
  NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS, NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS, NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS,
  NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
  NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_1, NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
  NDIS_FILTER_CHARACTERISTICS_REVISION_1, NDIS_FILTER_CHARACTERISTICS_REVISION_2, NDIS_STATUS_PAUSED, NDIS_STATUS_SEND_ABORTED,
  NDIS_STATUS_INVALID_DATA, NDIS_STATUS_ADAPTER_NOT_READY, NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL, NDIS_RECEIVE_FLAGS_RESOURCES,
  NDIS_RECEIVE_FLAGS_SINGLE_ETHER_TYPE, NDIS_RECEIVE_FLAGS_SINGLE_VLAN, NDIS_RECEIVE_FLAGS_PERFECT_FILTERED,
  NDIS_RECEIVE_FLAGS_SINGLE_QUEUE, NDIS_RETURN_FLAGS_DISPATCH_LEVEL, NDIS_SEND_FLAGS_DISPATCH_LEVEL,
  NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL, NDIS_DEFAULT_PORT_NUMBER, NdisHaltDeviceDisabled, NdisHaltDeviceInstanceDeInitialized,
  NetBufferListCancelId,
} from './ndis/driver.js';
export { Hub, type NicCounters, type VirtualMiniportOptions, type DpcResult } from './vnic.js';
export { PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, type NDIS_SPIN_LOCK } from './ndis/irql.js';
export type { LeakEntry, Site } from './verifier.js';
export {
  type PNET_BUFFER_LIST, type NET_BUFFER_LIST_POOL_PARAMETERS,
  NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2,
  NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1, NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_2,
  NET_BUFFER_LIST_POOL_FLAG_VERIFY, NetBufferListProtocolId, NetBufferListFrameType, MaxNetBufferListInfo,
} from './ndis/nbl.js';
export type { NET_BUFFER_ALLOCATE_MDL, NET_BUFFER_FREE_MDL } from './ndis/dataspace.js';
export {
  type PNDIS_PACKET, type PNDIS_BUFFER, fPACKET_ALLOCATED_BY_NDIS, fPACKET_CONTAINS_MEDIA_SPECIFIC_INFO,
  NDIS_PACKET_POOL_MAX_DESCRIPTORS,
} from './ndis/packet.js';
export { PACKET as NDIS_PACKET_LAYOUT, OOB as NDIS_PACKET_OOB_LAYOUT, NBL as NET_BUFFER_LIST_LAYOUT, NBL_CONTEXT as NET_BUFFER_LIST_CONTEXT_LAYOUT, NB as NET_BUFFER_LAYOUT, MDL as MDL_LAYOUT, MDAT as MDL_AND_DATA_LAYOUT, GOBJ as NDIS_GENERIC_OBJECT_LAYOUT } from './ndis/layout.js';
export { SharedRing, createSharedRing, openSharedRing, SHARED_RING_HEADER, SHARED_RING_FLAGS, SHARED_RING_MAX_CAPACITY, type SharedRingOptions, type SharedRingStats } from './xring.js';

/** The runtime the package-level functions act on (ready on import). */
export const defaultRuntime: NdisRuntime = await createRuntime();
const rt = defaultRuntime;

export const NdisRegisterProtocolDriver = rt.NdisRegisterProtocolDriver.bind(rt);
export const NdisDeregisterProtocolDriver = rt.NdisDeregisterProtocolDriver.bind(rt);
export const NdisAllocateGenericObject = rt.NdisAllocateGenericObject.bind(rt);
export const NdisFreeGenericObject = rt.NdisFreeGenericObject.bind(rt);
export const NdisAllocateMemoryWithTagPriority = rt.NdisAllocateMemoryWithTagPriority.bind(rt);
export const NdisFreeMemoryWithTagPriority = rt.NdisFreeMemoryWithTagPriority.bind(rt);
export const NdisAllocateMdl = rt.NdisAllocateMdl.bind(rt);
export const NdisFreeMdl = rt.NdisFreeMdl.bind(rt);
export const NDIS_MDL_LINKAGE = rt.NDIS_MDL_LINKAGE.bind(rt);
export const NDIS_MDL_LINKAGE_SET = rt.NDIS_MDL_LINKAGE_SET.bind(rt);
export const MmGetMdlByteCount = rt.MmGetMdlByteCount.bind(rt);
export const MmGetMdlVirtualAddress = rt.MmGetMdlVirtualAddress.bind(rt);
export const MmGetSystemAddressForMdlSafe = rt.MmGetSystemAddressForMdlSafe.bind(rt);
export const NdisAllocateNetBufferPool = rt.NdisAllocateNetBufferPool.bind(rt);
export const NdisFreeNetBufferPool = rt.NdisFreeNetBufferPool.bind(rt);
export const NdisAllocateNetBuffer = rt.NdisAllocateNetBuffer.bind(rt);
export const NdisAllocateNetBufferMdlAndData = rt.NdisAllocateNetBufferMdlAndData.bind(rt);
export const NdisFreeNetBuffer = rt.NdisFreeNetBuffer.bind(rt);
export const NdisGetPoolFromNetBuffer = rt.NdisGetPoolFromNetBuffer.bind(rt);
export const NET_BUFFER_NEXT_NB = rt.NET_BUFFER_NEXT_NB.bind(rt);
export const NET_BUFFER_FIRST_MDL = rt.NET_BUFFER_FIRST_MDL.bind(rt);
export const NET_BUFFER_DATA_LENGTH = rt.NET_BUFFER_DATA_LENGTH.bind(rt);
export const NET_BUFFER_DATA_OFFSET = rt.NET_BUFFER_DATA_OFFSET.bind(rt);
export const NET_BUFFER_CURRENT_MDL = rt.NET_BUFFER_CURRENT_MDL.bind(rt);
export const NET_BUFFER_CURRENT_MDL_OFFSET = rt.NET_BUFFER_CURRENT_MDL_OFFSET.bind(rt);
export const NET_BUFFER_CHECKSUM_BIAS = rt.NET_BUFFER_CHECKSUM_BIAS.bind(rt);
export const NET_BUFFER_PROTOCOL_RESERVED = rt.NET_BUFFER_PROTOCOL_RESERVED.bind(rt);
export const NET_BUFFER_MINIPORT_RESERVED = rt.NET_BUFFER_MINIPORT_RESERVED.bind(rt);
export const NET_BUFFER_NEXT_NB_SET = rt.NET_BUFFER_NEXT_NB_SET.bind(rt);
export const NET_BUFFER_FIRST_MDL_SET = rt.NET_BUFFER_FIRST_MDL_SET.bind(rt);
export const NET_BUFFER_CURRENT_MDL_SET = rt.NET_BUFFER_CURRENT_MDL_SET.bind(rt);
export const NET_BUFFER_CURRENT_MDL_OFFSET_SET = rt.NET_BUFFER_CURRENT_MDL_OFFSET_SET.bind(rt);
export const NET_BUFFER_DATA_LENGTH_SET = rt.NET_BUFFER_DATA_LENGTH_SET.bind(rt);
export const NET_BUFFER_DATA_OFFSET_SET = rt.NET_BUFFER_DATA_OFFSET_SET.bind(rt);
export const NET_BUFFER_CHECKSUM_BIAS_SET = rt.NET_BUFFER_CHECKSUM_BIAS_SET.bind(rt);
export const NdisAllocateNetBufferListPool = rt.NdisAllocateNetBufferListPool.bind(rt);
export const NdisFreeNetBufferListPool = rt.NdisFreeNetBufferListPool.bind(rt);
export const NdisGetPoolFromNetBufferList = rt.NdisGetPoolFromNetBufferList.bind(rt);
export const NdisAllocateNetBufferList = rt.NdisAllocateNetBufferList.bind(rt);
export const NdisFreeNetBufferList = rt.NdisFreeNetBufferList.bind(rt);
export const NdisAllocateNetBufferListContext = rt.NdisAllocateNetBufferListContext.bind(rt);
export const NdisFreeNetBufferListContext = rt.NdisFreeNetBufferListContext.bind(rt);
export const NET_BUFFER_LIST_CONTEXT_DATA_START = rt.NET_BUFFER_LIST_CONTEXT_DATA_START.bind(rt);
export const NET_BUFFER_LIST_CONTEXT_DATA_SIZE = rt.NET_BUFFER_LIST_CONTEXT_DATA_SIZE.bind(rt);
export const NdisGetNetBufferListProtocolId = rt.NdisGetNetBufferListProtocolId.bind(rt);
export const NdisSetNetBufferListProtocolId = rt.NdisSetNetBufferListProtocolId.bind(rt);
export const NET_BUFFER_LIST_NEXT_NBL = rt.NET_BUFFER_LIST_NEXT_NBL.bind(rt);
export const NET_BUFFER_LIST_NEXT_NBL_SET = rt.NET_BUFFER_LIST_NEXT_NBL_SET.bind(rt);
export const NET_BUFFER_LIST_FIRST_NB = rt.NET_BUFFER_LIST_FIRST_NB.bind(rt);
export const NET_BUFFER_LIST_FIRST_NB_SET = rt.NET_BUFFER_LIST_FIRST_NB_SET.bind(rt);
export const NET_BUFFER_LIST_STATUS = rt.NET_BUFFER_LIST_STATUS.bind(rt);
export const NET_BUFFER_LIST_STATUS_SET = rt.NET_BUFFER_LIST_STATUS_SET.bind(rt);
export const NET_BUFFER_LIST_FLAGS = rt.NET_BUFFER_LIST_FLAGS.bind(rt);
export const NET_BUFFER_LIST_FLAGS_SET = rt.NET_BUFFER_LIST_FLAGS_SET.bind(rt);
export const NET_BUFFER_LIST_NBL_FLAGS = rt.NET_BUFFER_LIST_NBL_FLAGS.bind(rt);
export const NET_BUFFER_LIST_NBL_FLAGS_SET = rt.NET_BUFFER_LIST_NBL_FLAGS_SET.bind(rt);
export const NET_BUFFER_LIST_INFO = rt.NET_BUFFER_LIST_INFO.bind(rt);
export const NET_BUFFER_LIST_INFO_SET = rt.NET_BUFFER_LIST_INFO_SET.bind(rt);
export const NET_BUFFER_LIST_PROTOCOL_RESERVED = rt.NET_BUFFER_LIST_PROTOCOL_RESERVED.bind(rt);
export const NET_BUFFER_LIST_MINIPORT_RESERVED = rt.NET_BUFFER_LIST_MINIPORT_RESERVED.bind(rt);
export const NET_BUFFER_LIST_CONTEXT = rt.NET_BUFFER_LIST_CONTEXT.bind(rt);
export const NET_BUFFER_LIST_SOURCE_HANDLE = rt.NET_BUFFER_LIST_SOURCE_HANDLE.bind(rt);
export const NET_BUFFER_LIST_SOURCE_HANDLE_SET = rt.NET_BUFFER_LIST_SOURCE_HANDLE_SET.bind(rt);
export const NdisRetreatNetBufferDataStart = rt.NdisRetreatNetBufferDataStart.bind(rt);
export const NdisAdvanceNetBufferDataStart = rt.NdisAdvanceNetBufferDataStart.bind(rt);
export const NdisRetreatNetBufferListDataStart = rt.NdisRetreatNetBufferListDataStart.bind(rt);
export const NdisAdvanceNetBufferListDataStart = rt.NdisAdvanceNetBufferListDataStart.bind(rt);
export const NdisAdjustNetBufferCurrentMdl = rt.NdisAdjustNetBufferCurrentMdl.bind(rt);
export const NdisGetDataBuffer = rt.NdisGetDataBuffer.bind(rt);
export const NdisCopyFromNetBufferToNetBuffer = rt.NdisCopyFromNetBufferToNetBuffer.bind(rt);
export const NdisQueryNetBufferPhysicalCount = rt.NdisQueryNetBufferPhysicalCount.bind(rt);
export const NdisAllocateNetBufferAndNetBufferList = rt.NdisAllocateNetBufferAndNetBufferList.bind(rt);
export const NdisAllocatePacketPool = rt.NdisAllocatePacketPool.bind(rt);
export const NdisAllocatePacketPoolEx = rt.NdisAllocatePacketPoolEx.bind(rt);
export const NdisFreePacketPool = rt.NdisFreePacketPool.bind(rt);
export const NdisPacketPoolUsage = rt.NdisPacketPoolUsage.bind(rt);
export const NdisGetPoolFromPacket = rt.NdisGetPoolFromPacket.bind(rt);
export const NdisPacketSize = rt.NdisPacketSize.bind(rt);
export const NdisSetPacketPoolProtocolId = rt.NdisSetPacketPoolProtocolId.bind(rt);
export const NdisAllocatePacket = rt.NdisAllocatePacket.bind(rt);
export const NdisDprAllocatePacket = rt.NdisDprAllocatePacket.bind(rt);
export const NdisDprAllocatePacketNonInterlocked = rt.NdisDprAllocatePacketNonInterlocked.bind(rt);
export const NdisFreePacket = rt.NdisFreePacket.bind(rt);
export const NdisDprFreePacket = rt.NdisDprFreePacket.bind(rt);
export const NdisDprFreePacketNonInterlocked = rt.NdisDprFreePacketNonInterlocked.bind(rt);
export const NdisReinitializePacket = rt.NdisReinitializePacket.bind(rt);
export const NdisAllocateBufferPool = rt.NdisAllocateBufferPool.bind(rt);
export const NdisFreeBufferPool = rt.NdisFreeBufferPool.bind(rt);
export const NdisAllocateBuffer = rt.NdisAllocateBuffer.bind(rt);
export const NdisFreeBuffer = rt.NdisFreeBuffer.bind(rt);
export const NdisChainBufferAtFront = rt.NdisChainBufferAtFront.bind(rt);
export const NdisChainBufferAtBack = rt.NdisChainBufferAtBack.bind(rt);
export const NdisUnchainBufferAtFront = rt.NdisUnchainBufferAtFront.bind(rt);
export const NdisUnchainBufferAtBack = rt.NdisUnchainBufferAtBack.bind(rt);
export const NdisQueryPacket = rt.NdisQueryPacket.bind(rt);
export const NdisQueryBuffer = rt.NdisQueryBuffer.bind(rt);
export const NdisGetNextBuffer = rt.NdisGetNextBuffer.bind(rt);
export const NdisBufferLength = rt.NdisBufferLength.bind(rt);
export const NDIS_GET_PACKET_STATUS = rt.NDIS_GET_PACKET_STATUS.bind(rt);
export const NDIS_SET_PACKET_STATUS = rt.NDIS_SET_PACKET_STATUS.bind(rt);
export const NDIS_GET_PACKET_HEADER_SIZE = rt.NDIS_GET_PACKET_HEADER_SIZE.bind(rt);
export const NDIS_SET_PACKET_HEADER_SIZE = rt.NDIS_SET_PACKET_HEADER_SIZE.bind(rt);
export const NdisGetPacketFlags = rt.NdisGetPacketFlags.bind(rt);
export const NdisSetPacketFlags = rt.NdisSetPacketFlags.bind(rt);
export const NDIS_PACKET_PROTOCOL_RESERVED = rt.NDIS_PACKET_PROTOCOL_RESERVED.bind(rt);
export const NDIS_PACKET_MINIPORT_RESERVED = rt.NDIS_PACKET_MINIPORT_RESERVED.bind(rt);
export const NdisMDeregisterMiniportDriver = rt.NdisMDeregisterMiniportDriver.bind(rt);
export const NdisMSendNetBufferListsComplete = rt.NdisMSendNetBufferListsComplete.bind(rt);
export const NdisMPauseComplete = rt.NdisMPauseComplete.bind(rt);
export const NDIS_SET_NET_BUFFER_LIST_CANCEL_ID = rt.NDIS_SET_NET_BUFFER_LIST_CANCEL_ID.bind(rt);
export const NDIS_GET_NET_BUFFER_LIST_CANCEL_ID = rt.NDIS_GET_NET_BUFFER_LIST_CANCEL_ID.bind(rt);
export const NdisCloseAdapterEx = rt.NdisCloseAdapterEx.bind(rt);
export const NdisSendNetBufferLists = rt.NdisSendNetBufferLists.bind(rt);
export const NdisReturnNetBufferLists = rt.NdisReturnNetBufferLists.bind(rt);
export const NdisCancelSendNetBufferLists = rt.NdisCancelSendNetBufferLists.bind(rt);
export const NdisFDeregisterFilterDriver = rt.NdisFDeregisterFilterDriver.bind(rt);
export const NdisFSetAttributes = rt.NdisFSetAttributes.bind(rt);
export const NdisFSendNetBufferLists = rt.NdisFSendNetBufferLists.bind(rt);
export const NdisFSendNetBufferListsComplete = rt.NdisFSendNetBufferListsComplete.bind(rt);
export const NdisFReturnNetBufferLists = rt.NdisFReturnNetBufferLists.bind(rt);
export const NdisIMAssociateMiniport = rt.NdisIMAssociateMiniport.bind(rt);
export const NdisIMInitializeDeviceInstanceEx = rt.NdisIMInitializeDeviceInstanceEx.bind(rt);
export const NdisIMDeInitializeDeviceInstance = rt.NdisIMDeInitializeDeviceInstance.bind(rt);
export const NdisMRegisterMiniportDriver = rt.NdisMRegisterMiniportDriver.bind(rt);
export const NdisMSetMiniportAttributes = rt.NdisMSetMiniportAttributes.bind(rt);
export const NdisMIndicateReceiveNetBufferLists = rt.NdisMIndicateReceiveNetBufferLists.bind(rt);
export const NdisOpenAdapterEx = rt.NdisOpenAdapterEx.bind(rt);
export const NdisFRegisterFilterDriver = rt.NdisFRegisterFilterDriver.bind(rt);
export const NdisFIndicateReceiveNetBufferLists = rt.NdisFIndicateReceiveNetBufferLists.bind(rt);
export const KeGetCurrentIrql = rt.KeGetCurrentIrql.bind(rt);
export const KeRaiseIrql = rt.KeRaiseIrql.bind(rt);
export const KeLowerIrql = rt.KeLowerIrql.bind(rt);
export const NdisAllocateSpinLock = rt.NdisAllocateSpinLock.bind(rt);
export const NdisFreeSpinLock = rt.NdisFreeSpinLock.bind(rt);
export const NdisAcquireSpinLock = rt.NdisAcquireSpinLock.bind(rt);
export const NdisReleaseSpinLock = rt.NdisReleaseSpinLock.bind(rt);
export const NdisDprAcquireSpinLock = rt.NdisDprAcquireSpinLock.bind(rt);
export const NdisDprReleaseSpinLock = rt.NdisDprReleaseSpinLock.bind(rt);
