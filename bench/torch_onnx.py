#!/usr/bin/python3
"""Bench helper for the ONNX gradient compiler (bench/onnx.ts): builds a PyTorch model (the face-api twin in
../shared/bench/facenet_torch.py + a 14-way linear head, or a torchvision-style ResNet-18 with random weights),
exports it with torch.onnx.export (dynamic batch, opset 17), and writes a reference batch with PyTorch autograd's
input gradient of the summed cross-entropy, then times PGD (L-inf, sign steps, clip to eps and 0..255) in PyTorch.

usage: torch_onnx.py {facenet,resnet18} OUT_DIR [--model-dir DIR] [--batch 8] [--iters 100] [--threads 2]
writes OUT_DIR/model.onnx, x.f32, labels.i64, grad.f32, grad64.f32, logits.f32; prints one JSON line.
grad64.f32 is autograd's gradient in float64 (rounded to float32): the reference that tells a float32
gradient's rounding from an error (on ResNet-18, autograd's own float32 gradient is 4.7e-4 off it).
"""
import argparse, json, os, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument('model', choices=['facenet', 'resnet18'])
ap.add_argument('out')
ap.add_argument('--model-dir'); ap.add_argument('--shared', default='../shared')
ap.add_argument('--batch', type=int, default=8); ap.add_argument('--iters', type=int, default=100)
ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--eps', type=float, default=4.0); ap.add_argument('--step', type=float, default=0.1)
a = ap.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(0)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        return F.relu(o + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """torchvision's resnet18 layout (7x7/2 stem, 3x3/2 max-pool, 4 stages of 2 basic blocks, GAP, FC);
    input NHWC 0..255 like the face models, scaled to ImageNet statistics inside."""
    def __init__(self, classes=14):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False); self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]; cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)
        for m in self.modules():  # non-trivial BN statistics, as a trained net has
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5)
                m.weight.data.uniform_(0.5, 1.5); m.bias.data.uniform_(-0.1, 0.1)
        self.register_buffer('mean', torch.tensor([123.675, 116.28, 103.53]))
        self.register_buffer('std', torch.tensor([58.395, 57.12, 57.375]))

    def forward(self, x_nhwc):
        x = ((x_nhwc - self.mean) / self.std).permute(0, 3, 1, 2)
        o = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        o = self.layers(o)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(o, 1), 1))


if a.model == 'facenet':
    sys.path.insert(0, os.path.join(a.shared, 'bench'))
    from facenet_torch import FaceNet
    model, size = nn.Sequential(FaceNet(a.model_dir), nn.Linear(128, 14)), 150
else:
    model, size = ResNet18(), 112
model.eval()
os.makedirs(a.out, exist_ok=True)
x = torch.rand(a.batch, size, size, 3) * 255
labels = torch.randint(0, 14, (a.batch,))
torch.onnx.export(model, x, os.path.join(a.out, 'model.onnx'), input_names=['x'], output_names=['logits'],
                  dynamic_axes={'x': {0: 'N'}, 'logits': {0: 'N'}}, opset_version=17)

def input_grad(m, xx):
    xg = xx.clone().requires_grad_(True)
    out = m(xg)
    g, = torch.autograd.grad(F.cross_entropy(out, labels, reduction='sum'), xg)
    return out, g

def cast(m, dtype):
    """m.to(dtype), weights kept in plain dicts of tensors too (the twin's W)."""
    m.to(dtype)
    for mod in m.modules():
        for k, v in vars(mod).items():
            if not k.startswith('_') and isinstance(v, dict) and v and all(torch.is_tensor(t) for t in v.values()):
                for n in v: v[n] = v[n].to(dtype)
    return m

logits, grad = input_grad(model, x)
grad64 = input_grad(cast(model, torch.float64), x.double())[1].float()
cast(model, torch.float32)
x.numpy().tofile(os.path.join(a.out, 'x.f32')); labels.numpy().tofile(os.path.join(a.out, 'labels.i64'))
grad.numpy().tofile(os.path.join(a.out, 'grad.f32')); grad64.numpy().tofile(os.path.join(a.out, 'grad64.f32'))
logits.detach().numpy().tofile(os.path.join(a.out, 'logits.f32'))

def pgd():
    x0 = x; xa = x.clone()
    for _ in range(a.iters):
        xa.requires_grad_(True)
        g, = torch.autograd.grad(F.cross_entropy(model(xa), labels, reduction='sum'), xa)
        with torch.no_grad():
            xa = torch.min(torch.max(xa + a.step * g.sign(), x0 - a.eps), x0 + a.eps).clamp(0, 255)
    return xa

pgd_iters = a.iters
t = time.perf_counter(); pgd(); pgd_s = (time.perf_counter() - t) / a.batch
f32_vs_f64 = float((grad - grad64).abs().max() / grad64.abs().max())
print(json.dumps({'torch': torch.__version__, 'model': a.model, 'size': size, 'threads': a.threads, 'batch': a.batch,
                  'grad_rel_error_f32_vs_f64': f32_vs_f64,
                  'iters': pgd_iters, 'pgd_s_per_image': round(pgd_s, 4), 'load_avg': os.getloadavg()[0]}))
