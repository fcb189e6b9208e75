"""Server reflection that serves every proto file of the service with its comments."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha._async import ReflectionServicer

__all__ = ["DocumentedReflection", "load_files"]

_DESCRIPTOR_SET = "descriptors.binpb"


def load_files() -> dict[str, bytes]:
    """Return every file the server speaks, name -> serialized FileDescriptorProto.

    Our files (``errors.proto`` included, though no service names it) come
    from the descriptor set that protogen writes with source info, so
    ``grpcurl describe`` shows each element's comment; health, reflection
    and the google.rpc error details (so clients can decode ErrorInfo and
    BadRequest by reflection) come from their modules.
    """
    raw = (resources.files("identitycontext.v1") / _DESCRIPTOR_SET).read_bytes()
    files = {
        f.name: f.SerializeToString() for f in descriptor_pb2.FileDescriptorSet.FromString(raw).file
    }
    stack = [
        m.DESCRIPTOR for m in (health_pb2, reflection_pb2, code_pb2, status_pb2, error_details_pb2)
    ]
    while stack:  # each module's file and every file it imports
        descriptor = stack.pop()
        if descriptor.name not in files:
            proto = descriptor_pb2.FileDescriptorProto()
            descriptor.CopyToProto(proto)
            files[proto.name] = proto.SerializeToString()
        stack.extend(descriptor.dependencies)
    return files


class DocumentedReflection(ReflectionServicer):  # type: ignore[misc]
    """The standard reflection service over our own pool, answering with the documented files."""

    def __init__(self, service_names: Iterable[str], files: dict[str, bytes]) -> None:
        pool = descriptor_pool.DescriptorPool()
        pending = dict(files)
        while pending:  # add each file after its dependencies
            for name, data in list(pending.items()):
                proto = descriptor_pb2.FileDescriptorProto.FromString(data)
                if all(dep not in pending for dep in proto.dependency):
                    pool.Add(proto)
                    del pending[name]
        super().__init__(service_names, pool=pool)
        self._files = files

    def _answer(self, descriptor: Any, request: Any) -> Any:
        seen: dict[str, Any] = {}
        stack = [descriptor]
        while stack:
            current = stack.pop()
            if current.name in seen:
                continue
            seen[current.name] = current
            stack.extend(current.dependencies)
        return reflection_pb2.ServerReflectionResponse(
            file_descriptor_response=reflection_pb2.FileDescriptorResponse(
                file_descriptor_proto=[self._files[name] for name in seen]
            ),
            original_request=request,
        )

    def _file_by_filename(self, request: Any, filename: str) -> Any:
        try:
            return self._answer(self._pool.FindFileByName(filename), request)
        except KeyError:
            return super()._file_by_filename(request, filename)

    def _file_containing_symbol(self, request: Any, fully_qualified_name: str) -> Any:
        try:
            return self._answer(self._pool.FindFileContainingSymbol(fully_qualified_name), request)
        except KeyError:
            return super()._file_containing_symbol(request, fully_qualified_name)
