#!/usr/bin/env bash
# Publishes vib3-device-check as one self-contained linux-x64 file (about 41 MB, the .NET runtime and ILGPU inside)
# into tools/gpu/bin, for a GPU machine that has no .NET. The architecture descriptors it converts with sit beside it
# (tools/gpu/bin/catalog). tools/gpu/bin is a build output (ignored by git): hand it to the GPU machine with the tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf tools/gpu/bin
dotnet publish tools/Vib3.DeviceCheck/Vib3.DeviceCheck.csproj -c Release -r linux-x64 --self-contained \
  -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
  -p:DebugType=none -p:UseSharedCompilation=false -o tools/gpu/bin
rm -f tools/gpu/bin/*.pdb
du -sh tools/gpu/bin
