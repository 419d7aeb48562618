//! `nn-import model.onnx [--name Name] [--weights out.safetensors]`: prints the `network!`
//! declaration equivalent to an ONNX model and writes its weights as safetensors, named as
//! that declaration names them (PyTorch `state_dict` names and layouts), for
//! `#[weights = "out.safetensors"]` or `Name::load_safetensors`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nn_onnx::import::import;
use nn_onnx::Model;

const USAGE: &str = "usage: nn-import MODEL.onnx [--name Name] [--weights OUT.safetensors]\n\n\
Prints the nn::network! declaration of an ONNX model. --weights writes its weights (PyTorch\n\
names and layouts) for #[weights = \"OUT.safetensors\"]; --name names the struct (default:\n\
the file name in CamelCase).";

struct Args {
    model: PathBuf,
    name: Option<String>,
    weights: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut model, mut name, mut weights) = (None, None, None);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--name" => name = Some(it.next().ok_or("--name needs a value")?),
            "--weights" => {
                weights = Some(PathBuf::from(it.next().ok_or("--weights needs a path")?))
            }
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`")),
            s if model.is_none() => model = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument `{s}` (one model at a time)")),
        }
    }
    Ok(Args {
        model: model.ok_or("no model file given")?,
        name,
        weights,
    })
}

/// `jet_tagger.onnx` -> `JetTagger`.
fn camel(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("Imported");
    let mut out = String::new();
    for part in stem
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let mut cs = part.chars();
        if let Some(c) = cs.next() {
            out.push(c.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Imported");
    }
    out
}

fn run(a: Args) -> Result<(), String> {
    let model = Model::read(&a.model).map_err(|e| e.to_string())?;
    let decl = import(&model).map_err(|e| format!("`{}`: {e}", a.model.display()))?;
    let name = a.name.unwrap_or_else(|| camel(&a.model));
    let origin = a
        .model
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("model.onnx");
    let mut src = decl.source(&name, origin);
    if let Some(w) = &a.weights {
        let data: Vec<(String, Vec<u8>, Vec<usize>)> = decl
            .tensors
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    t.shape.clone(),
                )
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
            .iter()
            .map(|(n, bytes, shape)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| format!("tensor `{n}`: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let meta: HashMap<String, String> = [("source".to_string(), origin.to_string())]
            .into_iter()
            .collect();
        safetensors::tensor::serialize_to_file(views, Some(meta), w)
            .map_err(|e| format!("cannot write `{}`: {e}", w.display()))?;
        let file = w.display().to_string();
        if w.is_relative() {
            eprintln!(
                "note: `#[weights = \"{file}\"]` is looked up relative to the crate's Cargo.toml (or else to the file that declares the network); adjust the path if you run nn-import elsewhere"
            );
        }
        src = src.replacen(
            "    pub struct",
            &format!("    #[weights = \"{file}\"]\n    pub struct"),
            1,
        );
    }
    print!("{src}");
    Ok(())
}

fn main() -> ExitCode {
    match args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nn-import: {e}\n\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}
