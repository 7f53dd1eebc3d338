"""PyTorch Grad-CAM timing, the peer in bench/README.md's peers table (Debian python3-torch and
python3-torchvision; never used by the product or CI).

    /usr/bin/python3 bench/peers/torch_gradcam.py ARCH [--iters 10] [--threads 2]

Same architecture and input size as the ONNX models that bench/README.md measures (torchvision's
constructors, random weights: the time does not depend on the weight values). Prints one JSON line:
the medians (and min, max) in ms of
  - forward: model(x) under torch.no_grad();
  - gradcam: forward with the last convolutional block's output kept, backward from the top-1 logit
    to that block, alpha = spatial mean of the gradient, ReLU(sum alpha * A), bilinear upsampling to the input.
"""
import json, statistics, sys, time
import torch
import torchvision

ARCHS = {  # constructor, input side, Grad-CAM layer (the last convolutional block)
    "alexnet": (torchvision.models.alexnet, 224, lambda m: m.features),
    "vgg16": (torchvision.models.vgg16, 224, lambda m: m.features),
    "googlenet": (lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True), 224, lambda m: m.inception5b),
    "resnet50": (torchvision.models.resnet50, 224, lambda m: m.layer4),
    "densenet121": (torchvision.models.densenet121, 224, lambda m: m.features),
    "mobilenet_v2": (torchvision.models.mobilenet_v2, 224, lambda m: m.features),
    "inception_v3": (lambda: torchvision.models.inception_v3(aux_logits=False, init_weights=True), 299, lambda m: m.Mixed_7c),
}


def timed(fn, iters):
    for _ in range(2):
        fn()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return dict(median=statistics.median(times), min=min(times), max=max(times))


def main():
    arch = sys.argv[1]
    iters = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 10
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    build, side, layer = ARCHS[arch]
    model = build().eval()
    x = torch.rand(1, 3, side, side)
    kept = {}
    layer(model).register_forward_hook(lambda mod, inp, out: kept.__setitem__("a", out))

    def forward():
        with torch.no_grad():
            model(x)

    def gradcam():
        logits = model(x)
        a = kept["a"]
        g, = torch.autograd.grad(logits[0, int(logits[0].argmax())], a)
        cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
        return torch.nn.functional.interpolate(cam, size=(side, side), mode="bilinear", align_corners=False)

    print(json.dumps(dict(arch=arch, input=side, threads=threads, torch=torch.__version__,
                          forwardMs=timed(forward, iters), gradcamMs=timed(gradcam, iters))))


if __name__ == "__main__":
    main()
