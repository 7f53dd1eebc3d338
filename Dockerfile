# The cnn-fixations command line in a container (see docs/scaling.md).
#   docker build -t cnn-fixations .
#   docker run --rm -v "$PWD/photos:/data/in:ro" -v "$PWD/out:/data/out" cnn-fixations explain /data/in -r --out /data/out
# Build stage: the .NET 10 SDK restores and publishes the CLI for linux-x64 (framework-dependent, with its
# native ONNX Runtime and SkiaSharp libraries and the bundled model under models/).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG RID=linux-x64
WORKDIR /src
COPY Directory.Build.props CnnFixations.sln ./
COPY src/ src/
COPY models/ models/
RUN dotnet publish src/CnnFixations.Cli/CnnFixations.Cli.csproj -c Release -r ${RID} --self-contained false -o /app

# Runtime stage: the .NET 10 runtime only.
FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /work
COPY --from=build /app /app
ENV PATH="/app:${PATH}"
ENTRYPOINT ["/app/cnn-fixations"]
CMD ["--help"]
