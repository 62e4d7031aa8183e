"""The export formats' names and files, apart from the exporters so that building the CLI's
parser (its ``--format`` help) imports no TensorFlow."""

FORMATS = ("keras", "savedmodel", "tflite", "tflite-fp16", "tflite-int8", "onnx")
DEFAULT_FORMATS = ("keras", "savedmodel")
ONNX_OPSET = 17


def parse_formats(text):
    """``"keras,onnx"`` -> ``("keras", "onnx")``; ``all`` is every format; ``ValueError`` names a bad one."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return FORMATS
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ValueError(f"--format {text!r}: expected a comma-separated list of {', '.join(FORMATS)} (or all)")
    return tuple(dict.fromkeys(names))


def file_name(name, fmt):
    """The file (or folder) a generator ``name`` is exported to in format ``fmt``."""
    return {"keras": f"{name}.keras", "savedmodel": name, "tflite": f"{name}.tflite",
            "tflite-fp16": f"{name}_fp16.tflite", "tflite-int8": f"{name}_int8.tflite", "onnx": f"{name}.onnx"}[fmt]


def require_onnx():
    """``ValueError`` saying what to install when tf2onnx or onnxruntime is missing."""
    import importlib.util

    missing = [m for m in ("tf2onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"--format onnx needs {' and '.join(missing)}: pip install 'tfgan_translate[onnx]'")
